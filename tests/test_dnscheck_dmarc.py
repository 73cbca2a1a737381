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
    # Every query goes through the given resolver: the record, then the RFC 7489 section 7.1 authorisation.
    resolver = MemoryResolver().add("_dmarc.example.com", "TXT", "v=DMARC1; p=none; rua=mailto:reports@example.net")
    check_dmarc(resolver, "example.com")
    assert resolver.asked == [("_dmarc.example.com", "TXT"), ("example.com._report._dmarc.example.net", "TXT")]


def suggested(record: str, domain: str = "example.com", min_policy: str | None = None, name: str = "_dmarc.example.com") -> dict:
    return check_dmarc(MemoryResolver().add(name, "TXT", record), domain, min_policy)


def test_suggest_quarantine_to_reject():
    fact = suggested("v=DMARC1; p=quarantine; rua=mailto:agg@example.com; ruf=mailto:fail@example.com; adkim=s; fo=1")
    assert fact["suggested_record"] == '_dmarc.example.com. TXT "v=DMARC1; p=reject; rua=mailto:agg@example.com; ruf=mailto:fail@example.com; adkim=s; fo=1"'


def test_suggest_none_to_quarantine():
    fact = suggested("v=DMARC1; p=none; rua=mailto:agg@example.com; x-note=keep")
    assert fact["suggested_record"] == '_dmarc.example.com. TXT "v=DMARC1; p=quarantine; rua=mailto:agg@example.com; x-note=keep"'


def test_suggest_partial_quarantine_to_full():
    fact = suggested("v=DMARC1; p=quarantine; pct=25; rua=mailto:agg@example.com")
    assert fact["suggested_record"] == '_dmarc.example.com. TXT "v=DMARC1; p=quarantine; rua=mailto:agg@example.com"'


def test_suggest_partial_reject_to_full():
    fact = suggested("v=DMARC1; p=reject; pct=50")
    assert fact["suggested_record"] == '_dmarc.example.com. TXT "v=DMARC1; p=reject"'


def test_suggest_nothing_at_reject():
    fact = suggested("v=DMARC1; p=reject; rua=mailto:agg@example.com")
    assert fact["suggested_record"] is None
    assert fact["next_policy"] is None


def test_suggest_never_lowers_policy():
    rank = {"none": 0, "quarantine": 1, "reject": 2}
    for policy in ("none", "quarantine", "reject"):
        for pct in ("", "; pct=10"):
            fact = suggested(f"v=DMARC1; p={policy}; sp=reject{pct}")
            if fact["suggested_record"] is None:
                continue
            tags, _errors = split_tags(fact["suggested_record"].split('"')[1])
            assert rank[tags["p"]] >= rank[policy], (policy, pct)
            assert tags["sp"] == "reject", (policy, pct)


def test_suggest_inherited_raises_sp():
    # Mail from a subdomain gets sp of the organisational domain's record (RFC 7489 section 6.6.3).
    fact = suggested("v=DMARC1; p=reject; sp=none; rua=mailto:agg@example.com", domain="mail.example.com")
    assert fact["effective_policy"] == "none"
    assert fact["suggested_record"] == '_dmarc.example.com. TXT "v=DMARC1; p=reject; sp=quarantine; rua=mailto:agg@example.com"'


def test_suggest_starter_when_missing():
    fact = check_dmarc(MemoryResolver().add("example.com", "A", "192.0.2.1"), "example.com")
    assert fact["suggested_record"] == '_dmarc.example.com. TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com"'


def test_suggest_corrected_keeps_intent():
    fact = suggested("v=DMARC1; p=rejct; adkim=x; rua=mailto:agg@example.com")
    assert fact["status"] == "permerror"
    assert fact["suggested_record"] == '_dmarc.example.com. TXT "v=DMARC1; p=reject; rua=mailto:agg@example.com"'


def test_suggest_merged_keeps_strongest():
    resolver = MemoryResolver().add("_dmarc.example.com", "TXT", "v=DMARC1; p=none; rua=mailto:a@example.com", "v=DMARC1; p=quarantine; rua=mailto:b@example.com")
    fact = check_dmarc(resolver, "example.com")
    assert fact["suggested_record"] == '_dmarc.example.com. TXT "v=DMARC1; p=quarantine; rua=mailto:b@example.com,mailto:a@example.com"'


def test_min_policy_record_keeps_stronger_p():
    fact = suggested("v=DMARC1; p=reject; sp=none", domain="mail.example.com", min_policy="quarantine")
    assert fact["below_min_policy"] is True
    assert fact["min_policy_record"] == '_dmarc.example.com. TXT "v=DMARC1; p=reject; sp=quarantine"'


def test_dmarc_temperror_no_suggestion():
    resolver = MemoryResolver(failures={("_dmarc.example.com", "TXT"): "timeout"})
    assert "suggested_record" not in check_dmarc(resolver, "example.com")


def dmarc_fixes(record: str, domain: str = "example.com", min_policy: str | None = None) -> dict:
    """Evaluate the shipped rules over the DNS facts of `record`; return {rule name: fix steps}."""
    from diag.dnscheck.collect import collect_dns_facts
    from diag.dnscheck.expectations import Expectations
    from diag.engine.evaluate import evaluate
    from diag.engine.loader import load_rules

    resolver = MemoryResolver().add("_dmarc.example.com", "TXT", record)
    facts = {"source": {"path": domain, "index": 0}, "dns": collect_dns_facts(resolver, domain, Expectations(min_dmarc_policy=min_policy))}
    return {outcome["name"]: outcome.get("fix", []) for outcome in evaluate(load_rules([]), facts) if outcome["outcome"] == "fail" and outcome["category"] == "dmarc"}


def test_rules_policy_none_fix_steps_up():
    fixes = dmarc_fixes("v=DMARC1;p=none;sp=none;rua=mailto:agg@example.com")
    step = " ".join(fixes["dmarc-policy-none"])
    assert '"v=DMARC1; p=quarantine; sp=none; rua=mailto:agg@example.com"' in step
    assert "sp=quarantine" not in step


def test_rules_policy_weak_fix_never_lowers():
    fixes = dmarc_fixes("v=DMARC1; p=reject; sp=none", domain="mail.example.com", min_policy="quarantine")
    step = " ".join(fixes["dmarc-record-policy-weak"])
    assert '"v=DMARC1; p=reject; sp=quarantine"' in step
    assert "p=quarantine" not in step.replace("sp=quarantine", "")


def test_rules_invalid_fix_keeps_policy():
    fixes = dmarc_fixes("v=DMARC1; p=quarantine; pct=150; rua=mailto:agg@example.com")
    step = " ".join(fixes["dmarc-record-invalid"])
    assert '"v=DMARC1; p=quarantine; rua=mailto:agg@example.com"' in step
    assert "p=none" not in step


def test_suggest_corrected_keeps_valid_uris():
    fact = suggested("v=DMARC1; p=quarantine; rua=mailto:agg@example.com,reports; fo=1")
    assert fact["status"] == "permerror"
    assert fact["suggested_record"] == '_dmarc.example.com. TXT "v=DMARC1; p=quarantine; rua=mailto:agg@example.com; fo=1"'


def test_dmarc_missing_meets_min_policy():
    fact = check_dmarc(MemoryResolver().add("example.com", "A", "192.0.2.1"), "example.com", "quarantine")
    assert fact["suggested_record"] == '_dmarc.example.com. TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com"'


def test_dmarc_missing_min_reject():
    fact = check_dmarc(MemoryResolver().add("example.com", "A", "192.0.2.1"), "example.com", "reject")
    assert "p=reject;" in fact["suggested_record"]
