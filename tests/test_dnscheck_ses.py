"""Easy DKIM, DKIM key and MAIL FROM checks over an in-memory resolver."""

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from diag.dnscheck.dkim import parse_key_record
from diag.dnscheck.mx import check_mail_from_mx
from diag.dnscheck.ses import check_easy_dkim
from tests.test_dnscheck_memory import MemoryResolver

TOKENS = ("tokena", "tokenb", "tokenc")


def rsa_record(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def ses_zone(bits: int = 2048) -> MemoryResolver:
    resolver = MemoryResolver()
    record = rsa_record(bits)
    for token in TOKENS:
        resolver.add(f"{token}._domainkey.example.com", "CNAME", f"{token}.dkim.amazonses.com.")
        resolver.add(f"{token}.dkim.amazonses.com", "TXT", record)
    return resolver


def test_easy_dkim_ok():
    fact = check_easy_dkim(ses_zone(), "example.com", TOKENS)
    assert fact["status"] == "ok"
    assert fact["resolving_count"] == 3
    assert [entry["key"]["bits"] for entry in fact["entries"]] == [2048, 2048, 2048]


def test_easy_dkim_no_tokens():
    fact = check_easy_dkim(ses_zone(), "example.com", ())
    assert fact["status"] == "unknown_tokens"
    assert fact["how_to_get_tokens"] == "aws sesv2 get-email-identity --email-identity example.com"


def test_easy_dkim_missing_fix_record():
    resolver = MemoryResolver().add("example.com", "A", "192.0.2.1")
    fact = check_easy_dkim(resolver, "example.com", TOKENS)
    assert fact["resolving_count"] == 0
    assert fact["fix_records"][0] == "tokena._domainkey.example.com. CNAME tokena.dkim.amazonses.com."


def test_easy_dkim_wrong_target():
    resolver = ses_zone()
    resolver.records["tokenb._domainkey.example.com"] = {"CNAME": ["tokenb.dkim.amazonses.com.example.com."]}
    fact = check_easy_dkim(resolver, "example.com", TOKENS)
    assert [entry["token"] for entry in fact["wrong_target"]] == ["tokenb"]


def test_easy_dkim_txt_instead():
    resolver = ses_zone()
    resolver.records["tokenc._domainkey.example.com"] = {"TXT": [rsa_record(2048)]}
    fact = check_easy_dkim(resolver, "example.com", TOKENS)
    assert [entry["token"] for entry in fact["txt_instead"]] == ["tokenc"]


def test_easy_dkim_name_doubled():
    resolver = ses_zone()
    del resolver.records["tokena._domainkey.example.com"]
    resolver.add("tokena._domainkey.example.com.example.com", "CNAME", "tokena.dkim.amazonses.com.")
    fact = check_easy_dkim(resolver, "example.com", TOKENS)
    assert fact["doubled"][0]["doubled_name"] == "tokena._domainkey.example.com.example.com"


def test_easy_dkim_cname_loop():
    resolver = ses_zone()
    resolver.records["tokena._domainkey.example.com"] = {"CNAME": ["loop.example.com."]}
    resolver.add("loop.example.com", "CNAME", "tokena._domainkey.example.com.")
    fact = check_easy_dkim(resolver, "example.com", TOKENS)
    assert fact["entries"][0]["status"] == "loop"
    assert fact["status"] == "incomplete"


def test_easy_dkim_temperror():
    resolver = ses_zone()
    resolver.failures[("tokenb._domainkey.example.com", "CNAME")] = "timeout"
    assert check_easy_dkim(resolver, "example.com", TOKENS)["status"] == "temperror"


def test_dkim_key_1024_weak():
    fact = check_easy_dkim(ses_zone(1024), "example.com", TOKENS)
    assert fact["entries"][0]["key"]["weak"] is True


def test_dkim_key_ed25519():
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    fact = parse_key_record("v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode())
    assert fact["bits"] == 256


def test_dkim_key_revoked():
    assert parse_key_record("v=DKIM1; p=")["status"] == "revoked"


def test_dkim_key_bad_base64():
    assert parse_key_record("v=DKIM1; p=%%%")["status"] == "invalid"


def test_mail_from_mx_region():
    resolver = MemoryResolver().add("bounce.example.com", "MX", "10 feedback-smtp.us-west-2.amazonses.com.")
    fact = check_mail_from_mx(resolver, "bounce.example.com", "us-east-1")
    assert fact["matches"] is False
    assert fact["fix_record"] == "bounce.example.com. MX 10 feedback-smtp.us-east-1.amazonses.com."


def test_mail_from_mx_two_records():
    resolver = MemoryResolver().add("bounce.example.com", "MX", "10 feedback-smtp.us-east-1.amazonses.com.", "20 mx.example.net.")
    assert check_mail_from_mx(resolver, "bounce.example.com", "us-east-1")["matches"] is False
