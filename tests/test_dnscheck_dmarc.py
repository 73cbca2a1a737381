"""DMARC posture checks over an in-memory resolver (RFC 7489)."""

from diag.dnscheck.dmarc import check_dmarc, split_tags
from tests.test_dnscheck_memory import MemoryResolver


def test_dmarc_no_spaces_no_final_semicolon():
    resolver = MemoryResolver().add("_dmarc.example.com", "TXT", "v=DMARC1;p=reject;pct=50")
    fact = check_dmarc(resolver, "example.com")
    assert fact["status"] == "ok"
    assert fact["p"] == "reject"
    assert fact["pct"] == 50


def test_dmarc_final_semicolon():
    tags, errors = split_tags("v=DMARC1; p=quarantine; ")
    assert tags == {"v": "DMARC1", "p": "quarantine"}
    assert errors == []


def test_dmarc_two_records():
    resolver = MemoryResolver().add("_dmarc.example.com", "TXT", "v=DMARC1; p=none", "v=DMARC1; p=reject")
    fact = check_dmarc(resolver, "example.com")
    assert fact["status"] == "permerror"
    assert fact["record_count"] == 2


def test_dmarc_missing():
    fact = check_dmarc(MemoryResolver().add("example.com", "A", "192.0.2.1"), "example.com")
    assert fact["status"] == "none"
    assert fact["suggested_record"].startswith('_dmarc.example.com. TXT "v=DMARC1; p=none;')


def test_dmarc_org_domain_fallback():
    resolver = MemoryResolver().add("_dmarc.example.com", "TXT", "v=DMARC1; p=reject; sp=quarantine")
    fact = check_dmarc(resolver, "mail.example.com")
    assert fact["policy_domain"] == "example.com"
    assert fact["effective_policy"] == "quarantine"
    assert len(fact["queries"]) == 2


def test_dmarc_multiple_no_fallback():
    # RFC 7489 section 6.6.3 step 5: several records end discovery without the fallback.
    resolver = MemoryResolver().add("_dmarc.mail.example.com", "TXT", "v=DMARC1; p=none", "v=DMARC1; p=none").add("_dmarc.example.com", "TXT", "v=DMARC1; p=reject")
    fact = check_dmarc(resolver, "mail.example.com")
    assert fact["status"] == "permerror"
    assert fact["policy_domain"] == "mail.example.com"


def test_dmarc_temperror():
    resolver = MemoryResolver(failures={("_dmarc.example.com", "TXT"): "servfail"})
    assert check_dmarc(resolver, "example.com")["status"] == "temperror"


def test_dmarc_invalid_policy():
    resolver = MemoryResolver().add("_dmarc.example.com", "TXT", "v=DMARC1; p=block")
    fact = check_dmarc(resolver, "example.com")
    assert fact["status"] == "permerror"
    assert any("block" in error for error in fact["syntax_errors"])


def test_dmarc_lowercase_version_ignored():
    # "DMARC1" is matched exactly (RFC 7489 section 6.3), so this is no DMARC record.
    resolver = MemoryResolver().add("_dmarc.example.com", "TXT", "v=dmarc1; p=reject")
    assert check_dmarc(resolver, "example.com")["status"] == "none"


def test_dmarc_external_rua_unauthorised():
    resolver = MemoryResolver().add("_dmarc.example.com", "TXT", "v=DMARC1; p=none; rua=mailto:reports@example.net").add("example.net", "MX", "10 mx.example.net.")
    fact = check_dmarc(resolver, "example.com")
    assert fact["unauthorised_destinations"][0]["fix_record"] == 'example.com._report._dmarc.example.net. TXT "v=DMARC1"'


def test_dmarc_external_rua_authorised():
    resolver = MemoryResolver().add("_dmarc.example.com", "TXT", "v=DMARC1; p=none; rua=mailto:reports@example.net")
    resolver.add("example.com._report._dmarc.example.net", "TXT", "v=DMARC1")
    fact = check_dmarc(resolver, "example.com")
    assert fact["destinations"][0]["authorised"] is True
    assert fact["unauthorised_destinations"] == []


def test_dmarc_external_rua_temperror():
    resolver = MemoryResolver(failures={("example.com._report._dmarc.example.net", "TXT"): "timeout"})
    resolver.add("_dmarc.example.com", "TXT", "v=DMARC1; p=none; rua=mailto:reports@example.net")
    fact = check_dmarc(resolver, "example.com")
    assert fact["destinations"][0]["authorised"] == "temperror"


def test_dmarc_below_min_policy():
    resolver = MemoryResolver().add("_dmarc.example.com", "TXT", "v=DMARC1; p=none")
    fact = check_dmarc(resolver, "example.com", "quarantine")
    assert fact["below_min_policy"] is True
    assert fact["next_policy"] == "quarantine"


def test_dmarc_queries_only_resolver():
    # Only checkdmarc asks for the wildcard authorisation name; it must ask our resolver, never the system's.
    resolver = MemoryResolver().add("_dmarc.example.com", "TXT", "v=DMARC1; p=none; rua=mailto:reports@example.net")
    check_dmarc(resolver, "example.com")
    assert ("*._report._dmarc.example.net", "TXT") in resolver.asked
