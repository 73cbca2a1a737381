"""DKIM verification of every signature, with keys generated here and served by zone files and Knot."""

import base64
import time

import pytest

from diag.dns import resolver as status
from diag.dns.resolver import Answer
from diag.verify.dkim import SignatureVerifier
from diag.verify.lookup import KeyStore
from tests.test_verify_signing import (  # noqa: F401  (world and resolver are fixtures)
    EASY_DKIM_TOKEN,
    SES_SELECTOR,
    SHOP,
    message,
    resolver,
    sign,
    sign_with_times,
    world,
    world_knot,
)


def verify(resolver, data: bytes, **options) -> list[dict]:
    return SignatureVerifier(data, KeyStore(resolver), **options).verify_all()


def only(resolver, data: bytes, **options) -> dict:
    results = verify(resolver, data, **options)
    assert len(results) == 1
    return results[0]


def test_rsa2048_pass(resolver, world):
    result = only(resolver, sign(message(), world.keys["s2048"], "s2048", SHOP))
    assert result["result"] == "pass"
    assert result["reason"] == "verified"
    assert result["key_bits"] == 2048
    assert "key-weak" not in result["flags"]


def test_rsa1024_pass_weak(resolver, world):
    result = only(resolver, sign(message(), world.keys["s1024"], "s1024", SHOP))
    assert result["result"] == "pass"
    assert result["key_bits"] == 1024
    assert "key-weak" in result["flags"]


def test_ed25519_pass(resolver, world):
    result = only(resolver, sign(message(), world.keys["ed"], "ed", SHOP))
    assert result["result"] == "pass"
    assert result["a"] == "ed25519-sha256"
    assert result["key_type"] == "ed25519"


def test_short_key_policy(resolver, world):
    result = only(resolver, sign(message(), world.keys["short"], "short", SHOP))
    assert result["result"] == "policy"
    assert result["reason"] == "key-too-short"
    assert result["key_bits"] == 512


def test_rsa_sha1_obsolete(resolver, world):
    result = only(resolver, sign(message(), world.keys["s2048"], "s2048", SHOP, algorithm=b"rsa-sha1"))
    assert result["result"] == "policy"
    assert result["reason"] == "rsa-sha1"
    assert "rsa-sha1" in result["flags"]


def test_footer_appended(resolver, world):
    signed = sign(message(), world.keys["s2048"], "s2048", SHOP)
    footer = b"--\r\nThis message was scanned by Example Gateway.\r\n"
    result = only(resolver, signed + footer)
    assert result["result"] == "fail"
    assert result["reason"] == "body-hash-mismatch"
    assert result["body_change"]["kind"] == "appended"
    assert result["body_change"]["appended_bytes"] == len(footer)
    assert "Example Gateway" in result["body_change"]["appended_preview"]


def test_simple_header_refolded(resolver, world):
    subject = "Your December statement is ready to download from the customer portal"
    signed = sign(message(subject=subject), world.keys["s2048"], "s2048", SHOP, canonicalize=(b"simple", b"simple"))
    refolded = signed.replace(b"ready to download", b"ready to\r\n download")
    result = only(resolver, refolded)
    assert result["reason"] == "header-signature-mismatch"
    assert result["header_change"]["kind"] == "refolded"
    assert result["header_change"]["fields"] == ["Subject"]


def test_relaxed_header_refold_passes(resolver, world):
    subject = "Your December statement is ready to download from the customer portal"
    signed = sign(message(subject=subject), world.keys["s2048"], "s2048", SHOP)
    result = only(resolver, signed.replace(b"ready to download", b"ready to\r\n download"))
    assert result["result"] == "pass"


def test_subject_changed(resolver, world):
    signed = sign(message(), world.keys["s2048"], "s2048", SHOP)
    result = only(resolver, signed.replace(b"Subject: Your", b"Subject: [EXTERNAL] Your"))
    assert result["result"] == "fail"
    assert result["reason"] == "header-signature-mismatch"
    assert result["header_change"]["kind"] == "changed"
    assert "[tag]" in result["detail"]


def test_body_reencoded_base64(resolver, world):
    body = b"Hello,\r\n\r\nYour statement is attached.\r\n"
    signed = sign(message(body=body), world.keys["s2048"], "s2048", SHOP)
    encoded = base64.encodebytes(body).replace(b"\n", b"\r\n")
    head, _, _ = signed.partition(b"\r\n\r\n")
    reencoded = head + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + encoded
    result = only(resolver, reencoded)
    assert result["reason"] == "body-hash-mismatch"
    assert result["body_change"]["kind"] == "reencoded"
    assert result["body_change"]["encoding"] == "base64"


def test_length_tag_allows_footer(resolver, world):
    signed = sign(message(), world.keys["s2048"], "s2048", SHOP, length=True)
    result = only(resolver, signed + b"Unsubscribe: https://list.example.net/u\r\n")
    assert result["result"] == "pass"
    assert result["length_limited"] is True
    assert result["appended_bytes"] > 0
    assert "list.example.net" in result["appended_preview"]


def test_key_not_found(resolver, world):
    result = only(resolver, sign(message(), world.keys["s2048"], "gone", SHOP))
    assert result["result"] == "permerror"
    assert result["reason"] == "key-not-found"
    assert result["key_status"] == status.NXDOMAIN
    assert result["body_intact"] is True


def test_key_revoked(resolver, world):
    result = only(resolver, sign(message(), world.keys["s2048"], "revoked", SHOP))
    assert result["result"] == "permerror"
    assert result["reason"] == "key-revoked"


def test_expired(resolver, world):
    now = int(time.time())
    signed = sign_with_times(message(), world.keys["s2048"], "s2048", SHOP, signed_at=now - 30 * 86400, expires=now - 20 * 86400)
    result = only(resolver, signed, received_at=now - 29 * 86400)
    assert result["result"] == "fail"
    assert result["reason"] == "expired"
    assert result["expired_at_receipt"] is False


def test_future_timestamp(resolver, world):
    signed = sign_with_times(message(), world.keys["s2048"], "s2048", SHOP, signed_at=int(time.time()) + 3 * 86400)
    result = only(resolver, signed)
    assert result["reason"] == "future-timestamp"


def test_ses_pair_both_pass(resolver, world):
    data = message()
    signed = sign(data, world.keys["token"], EASY_DKIM_TOKEN, SHOP)
    signed = sign(signed, world.keys["ses"], SES_SELECTOR, "amazonses.com")
    results = verify(resolver, signed)
    assert [entry["d"] for entry in results] == ["amazonses.com", SHOP]
    assert [entry["result"] for entry in results] == ["pass", "pass"]


def test_ses_pair_one_broken(resolver, world):
    signed = sign(message(), world.keys["token"], EASY_DKIM_TOKEN, SHOP, canonicalize=(b"simple", b"simple"), fields=[b"from", b"to", b"subject", b"date", b"message-id", b"mime-version"])
    signed = sign(signed, world.keys["ses"], SES_SELECTOR, "amazonses.com")
    refolded = signed.replace(b"MIME-Version: 1.0", b"MIME-Version:\r\n 1.0")
    results = verify(resolver, refolded)
    assert results[0]["result"] == "pass"
    assert results[1]["reason"] == "header-signature-mismatch"
    assert results[1]["header_change"]["fields"] == ["MIME-Version"]


def test_servfail_is_temperror(world, world_knot):
    from diag.dns.live import LiveResolver

    # Knot returns SERVFAIL for its deliberately broken zone.
    result = only(LiveResolver([world_knot.address], timeout=1.0), sign(message(), world.keys["s2048"], "s1", "broken.example.net"))
    assert result["result"] == "temperror"
    assert result["reason"] == "dns-temperror"
    assert result["key_status"] == status.SERVFAIL


class TimeoutResolver:
    def query(self, name, rdtype):
        return Answer(name=name, rdtype=rdtype, status=status.TIMEOUT, detail="no answer in 1 s")


def test_timeout_is_temperror(world):
    result = only(TimeoutResolver(), sign(message(), world.keys["s2048"], "s2048", SHOP))
    assert result["result"] == "temperror"
    assert result["reason"] == "dns-temperror"


class CountingResolver:
    def __init__(self, inner):
        self.inner = inner
        self.questions = []

    def query(self, name, rdtype):
        self.questions.append((name, rdtype))
        return self.inner.query(name, rdtype)


def test_keys_cached_per_run(world):
    counting = CountingResolver(world.zone_resolver())
    keys = KeyStore(counting)
    for _ in range(3):
        SignatureVerifier(sign(message(), world.keys["s2048"], "s2048", SHOP), keys).verify_all()
    assert counting.questions == [(f"s2048._domainkey.{SHOP}", "TXT")]


@pytest.mark.parametrize("name", [b"s2048._domainkey.shop.example.org.", "s2048._domainkey.shop.example.org"])
def test_dnsfunc_accepts_bytes_and_str(world, name):
    text = KeyStore(world.zone_resolver()).dnsfunc(name)
    assert text.startswith(b"v=DKIM1; k=rsa; p=")
