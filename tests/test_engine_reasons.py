"""Structured reasons on not_applicable and error outcomes, and rules that defer to others."""

from pathlib import Path

import pytest
import yaml

from diag.engine.evaluate import evaluate, evaluate_for_report, evaluate_rule
from diag.engine.loader import load_rule_file, load_rules
from diag.errors import RuleFileError
from diag.facts.build import build_facts
from diag.messages.reader import read_message

ROOT = Path(__file__).resolve().parent.parent


def rule_document(name: str, code: str, **changes) -> dict:
    document = {
        "name": name,
        "code": code,
        "title": f"Test rule {name}",
        "severity": "warning",
        "confidence": "high",
        "category": "ses",
        "needs": ["headers"],
        "applies": {"exists": "probe.present"},
        "when": {"equals": {"path": "probe.verdict", "value": "bad"}},
        "message": "The probe is bad.",
        "evidence": ["probe.verdict"],
        "why": "Test.",
        "fix": ["Fix the probe."],
        "references": [{"title": "RFC 8601", "url": "https://www.rfc-editor.org/rfc/rfc8601"}],
        "samples": {"fail": ["f.txt"], "pass": ["p.txt"]},
    }
    document.update(changes)
    return document


def write_rule(folder: Path, document: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{document['name']}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def load_one(tmp_path: Path, **changes):
    return load_rule_file(write_rule(tmp_path, rule_document("test-probe", "XT901", **changes)))


def load_with(tmp_path: Path, *documents: dict) -> dict:
    """Load the shipped rules plus `documents`; return the test rules by name and the full list."""
    for document in documents:
        write_rule(tmp_path / "extra", document)
    rules = load_rules([tmp_path / "extra"])
    return {rule.name: rule for rule in rules if rule.code.startswith("XT")}, rules


LOOKUP_ERROR = {"in": {"path": "probe.lookup", "values": ["denied", "temperror", "error"]}}


def probe(**values) -> dict:
    return {"input": {"kind": "headers"}, "probe": {"present": True, **values}}


def test_needs_reason_and_missing(tmp_path):
    outcome = evaluate_rule(load_one(tmp_path, needs=["headers", "dns", "ses"]), probe())
    assert outcome["outcome"] == "not_applicable"
    assert outcome["reason"] == "needs"
    assert outcome["missing"] == ["dns", "ses"]


def test_applies_false_reason(tmp_path):
    outcome = evaluate_rule(load_one(tmp_path), {"input": {"kind": "headers"}})
    assert outcome["reason"] == "applies-false"
    assert outcome["condition"] == "probe.present is present"
    assert "missing" not in outcome


def test_pass_has_no_reason(tmp_path):
    outcome = evaluate_rule(load_one(tmp_path), probe(verdict="good"))
    assert outcome["outcome"] == "pass"
    assert "reason" not in outcome


@pytest.mark.parametrize(
    ("status", "reason", "wording"),
    [
        ("temperror", "temperror", "a lookup failed temporarily"),
        ("denied", "denied", "a lookup was denied for lack of permission"),
        ("error", "lookup-failed", "a lookup failed:"),
    ],
)
def test_error_reason_from_status(tmp_path, status, reason, wording):
    outcome = evaluate_rule(load_one(tmp_path, error_when=LOOKUP_ERROR), probe(lookup=status))
    assert outcome["outcome"] == "error"
    assert outcome["reason"] == reason
    assert wording in outcome["detail"]


def test_error_denied_not_temporary(tmp_path):
    outcome = evaluate_rule(load_one(tmp_path, error_when=LOOKUP_ERROR), probe(lookup="denied"))
    assert "temporarily" not in outcome["detail"]


def test_error_denied_wins_over_temperror(tmp_path):
    error_when = {"any": [LOOKUP_ERROR, {"in": {"path": "probe.other", "values": ["temperror", "denied"]}}]}
    outcome = evaluate_rule(load_one(tmp_path, error_when=error_when), probe(lookup="temperror", other="denied"))
    assert outcome["reason"] == "denied"


def test_error_status_in_list_item(tmp_path):
    error_when = {"some": {"path": "probe.calls", "where": {"in": {"path": "lookup", "values": ["denied", "temperror"]}}}}
    facts = probe(calls=[{"lookup": "ok"}, {"lookup": "denied"}])
    assert evaluate_rule(load_one(tmp_path, error_when=error_when), facts)["reason"] == "denied"


def test_error_without_status_is_temperror(tmp_path):
    error_when = {"equals": {"path": "probe.timed_out", "value": True}}
    assert evaluate_rule(load_one(tmp_path, error_when=error_when), probe(timed_out=True))["reason"] == "temperror"


def test_report_summary_keeps_fields(tmp_path):
    rule = load_one(tmp_path, needs=["headers", "dns"])
    _, summaries = evaluate_for_report([rule], probe())
    assert summaries[0]["category"] == "ses"
    assert summaries[0]["reason"] == "needs"
    assert summaries[0]["missing"] == ["dns"]


def test_report_summary_error_reason(tmp_path):
    rule = load_one(tmp_path, error_when=LOOKUP_ERROR)
    _, summaries = evaluate_for_report([rule], probe(lookup="denied"))
    assert summaries[0]["reason"] == "denied"


def test_report_summary_pass_category(tmp_path):
    _, summaries = evaluate_for_report([load_one(tmp_path)], probe(verdict="good"))
    assert summaries[0]["category"] == "ses"
    assert "reason" not in summaries[0]


def deferring_pair(tmp_path: Path) -> tuple[dict, list]:
    """A rule test-late (XT903) that defers to test-cause (XT902), which sorts first."""
    cause = rule_document("test-cause", "XT902", when={"equals": {"path": "probe.cause", "value": True}})
    late = rule_document("test-late", "XT903", defer_to=["test-cause"])
    return load_with(tmp_path, late, cause)


def test_defer_when_target_fails(tmp_path):
    by_name, _ = deferring_pair(tmp_path)
    outcome = evaluate_rule(by_name["test-late"], probe(verdict="bad", cause=True))
    assert outcome["outcome"] == "not_applicable"
    assert outcome["reason"] == "deferred"
    assert outcome["deferred_to"] == "test-cause"


def test_defer_target_passes(tmp_path):
    by_name, _ = deferring_pair(tmp_path)
    outcome = evaluate_rule(by_name["test-late"], probe(verdict="bad", cause=False))
    assert outcome["outcome"] == "fail"


def test_defer_target_outside_list(tmp_path):
    by_name, _ = deferring_pair(tmp_path)
    outcomes = evaluate([by_name["test-late"]], probe(verdict="bad", cause=True))
    assert outcomes[0]["reason"] == "deferred"


def test_defer_in_report(tmp_path):
    by_name, rules = deferring_pair(tmp_path)
    findings, summaries = evaluate_for_report(rules, probe(verdict="bad", cause=True))
    late = next(summary for summary in summaries if summary["name"] == "test-late")
    assert late["reason"] == "deferred"
    assert late["deferred_to"] == "test-cause"
    assert [finding["name"] for finding in findings if finding["code"].startswith("XT")] == ["test-cause"]


def test_defer_error_comes_first(tmp_path):
    cause = rule_document("test-cause", "XT902", when={"equals": {"path": "probe.cause", "value": True}})
    late = rule_document("test-late", "XT903", defer_to=["test-cause"], error_when=LOOKUP_ERROR)
    by_name, _ = load_with(tmp_path, late, cause)
    outcome = evaluate_rule(by_name["test-late"], probe(cause=True, lookup="temperror"))
    assert outcome["outcome"] == "error"


def test_defer_cycle_rejected(tmp_path):
    first = rule_document("test-first", "XT904", defer_to=["test-second"])
    second = rule_document("test-second", "XT905", defer_to=["test-first"])
    with pytest.raises(RuleFileError, match=r"cycle \(test-first -> test-second -> test-first\)"):
        load_with(tmp_path, first, second)


def test_defer_unknown_rule_rejected(tmp_path):
    with pytest.raises(RuleFileError, match="no loaded rule is named 'test-nowhere'"):
        load_with(tmp_path, rule_document("test-lonely", "XT906", defer_to=["test-nowhere"]))


def test_defer_to_self_rejected(tmp_path):
    with pytest.raises(RuleFileError, match="the name of another rule, not this one"):
        load_one(tmp_path, defer_to=["test-probe"])


def test_defer_to_not_a_list(tmp_path):
    with pytest.raises(RuleFileError, match="field 'defer_to'"):
        load_one(tmp_path, defer_to="forwarded-auth-broken")


def shipped_outcomes(sample: str) -> dict:
    rules = load_rules([])
    data = (ROOT / sample).read_bytes()
    facts = build_facts(read_message(data, source=sample))
    return {outcome["name"]: outcome for outcome in evaluate(rules, facts)}


def test_dmarc_fail_defers_forwarded():
    outcomes = shipped_outcomes("samples/rules/forwarded-auth-broken/fail.txt")
    assert outcomes["forwarded-auth-broken"]["outcome"] == "fail"
    assert outcomes["dmarc-fail"]["reason"] == "deferred"
    assert outcomes["dmarc-fail"]["deferred_to"] == "forwarded-auth-broken"


def deferring_chain(tmp_path: Path) -> list:
    """test-top (XT907) defers to test-middle (XT908), which defers to test-base (XT909, needs DNS)."""
    base = rule_document("test-base", "XT909", needs=["headers", "dns"], when={"equals": {"path": "probe.base", "value": True}})
    middle = rule_document(
        "test-middle", "XT908", defer_to=["test-base"], error_when={"equals": {"path": "probe.lookup", "value": "temperror"}},
        when={"equals": {"path": "probe.middle", "value": True}},
    )
    top = rule_document("test-top", "XT907", defer_to=["test-middle"])
    _, rules = load_with(tmp_path, top, middle, base)
    return rules


@pytest.mark.parametrize("base", [True, False])
@pytest.mark.parametrize("middle", [True, False])
@pytest.mark.parametrize("lookup", ["ok", "temperror"])
@pytest.mark.parametrize("dns", [None, {}])
def test_defer_chain_report_matches_evaluate(tmp_path, base, middle, lookup, dns):
    rules = deferring_chain(tmp_path)
    facts = probe(verdict="bad", base=base, middle=middle, lookup=lookup)
    if dns is not None:
        facts["dns"] = dns
    expected = [outcome for outcome in evaluate(rules, facts) if outcome["code"].startswith("XT")]
    findings, summaries = evaluate_for_report(rules, facts)
    reported = {summary["name"]: summary for summary in summaries if summary["code"].startswith("XT")}
    for outcome in expected:
        for key in ("outcome", "detail", "reason", "deferred_to", "missing"):
            assert reported[outcome["name"]].get(key) == outcome.get(key)
    failed = [finding["name"] for finding in findings if finding["code"].startswith("XT")]
    assert failed == [outcome["name"] for outcome in expected if outcome["outcome"] == "fail"]


def test_defer_target_without_sources(tmp_path):
    # test-base needs DNS facts, which are absent, so it cannot fail and test-middle is judged.
    rules = deferring_chain(tmp_path)
    _, summaries = evaluate_for_report(rules, probe(verdict="bad", base=True, middle=True))
    reported = {summary["name"]: summary for summary in summaries}
    assert reported["test-middle"]["outcome"] == "fail"
    assert reported["test-top"]["deferred_to"] == "test-middle"
