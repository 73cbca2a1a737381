"""Root causes first: findings that follow from another are marked, and the summary lists each first step once."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from diag.engine.loader import load_rules
from diag.pipeline import AnalyzeOptions, analyze_bytes, build_report
from diag.report.causes import fact_stage, link_causes, summarise_changes
from diag.report.view import SEVERITY_RANK, FindingView, build_view

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "samples" / "headers" / "ses-to-m365-spoof.txt"


@pytest.fixture(scope="module")
def demo_report() -> dict:
    options = AnalyzeOptions(rules=load_rules([]))
    message = analyze_bytes(DEMO.read_bytes(), source=str(DEMO.relative_to(ROOT)), options=options)
    return build_report("analyze", [message], [])


def finding(name: str, severity: str, *paths: str, fix: str = "") -> FindingView:
    return FindingView(
        name=name, code="X1", title=name, severity=severity, confidence="high", category="", message="", why="",
        evidence=[(path, "") for path in paths], fix=[fix] if fix else [], references=[],
    )


def test_demo_root_cause_first(demo_report):
    names = [item.name for item in build_view(demo_report).subjects[0].findings]
    assert names[0] == "dkim-only-esp-signature"


def test_demo_chain_order(demo_report):
    names = [item.name for item in build_view(demo_report).subjects[0].findings]
    assert names[-4:] == ["dmarc-fail", "compauth-fail", "microsoft-cat", "microsoft-junk"]


def test_demo_consequences_follow_from_root(demo_report):
    findings = {item.name: item for item in build_view(demo_report).subjects[0].findings}
    for name in ("dmarc-fail", "compauth-fail", "microsoft-cat", "microsoft-junk"):
        assert "dkim-only-esp-signature" in findings[name].follows_from, name


def test_demo_root_leads_to(demo_report):
    findings = {item.name: item for item in build_view(demo_report).subjects[0].findings}
    assert findings["dkim-only-esp-signature"].leads_to == ["dmarc-fail", "compauth-fail", "microsoft-cat", "microsoft-junk"]
    assert findings["dkim-only-esp-signature"].follows_from == []


def test_demo_summary_first_step(demo_report):
    changes = build_view(demo_report).changes
    assert changes.steps[0].rules == ["dkim-only-esp-signature"]
    assert "turn on Easy DKIM" in changes.steps[0].step


def test_demo_summary_followers(demo_report):
    changes = build_view(demo_report).changes
    assert changes.followers == ["dmarc-fail", "compauth-fail", "microsoft-cat", "microsoft-junk"]
    assert changes.notes()[0] == "dmarc-fail, compauth-fail, microsoft-cat and microsoft-junk follow from these: check again after the change."


def test_summary_steps_deduplicated(demo_report):
    twice = build_report("analyze", demo_report["messages"] * 2, [])
    changes = build_view(twice).changes
    assert len(changes.steps) == len(build_view(demo_report).changes.steps)
    assert changes.steps[0].subjects == ["samples/headers/ses-to-m365-spoof.txt #0"]


def test_stage_by_longest_prefix():
    assert fact_stage("microsoft.decoded.cat") == 4
    assert fact_stage("microsoft.decoded.scl") == 5
    assert fact_stage("verdicts.dkim_aligned_pass") == 1
    assert fact_stage("received.hops.0.raw") is None


def test_shared_identity_fact_no_link():
    # dmarc-none and dkim-only-esp-signature both cite the From domain, which is context:
    # a missing DMARC record does not follow from the DKIM setup.
    dkim = finding("dkim-only-esp-signature", "warning", "verdicts.dkim.0.domain", "identities.from.domain")
    dmarc_none = finding("dmarc-none", "warning", "verdicts.dmarc", "identities.from.domain")
    linked = link_causes([dkim, dmarc_none], SEVERITY_RANK)
    assert all(item.follows_from == [] for item in linked)


def test_same_stage_no_link():
    spf_fail = finding("spf-fail", "warning", "verdicts.spf")
    spf_not_aligned = finding("spf-not-aligned", "info", "verdicts.spf", "verdicts.spf_aligned")
    linked = link_causes([spf_fail, spf_not_aligned], SEVERITY_RANK)
    assert all(item.follows_from == [] for item in linked)


def test_transport_finding_stays_root():
    delay = finding("received-delay", "info", "received.hops.2.raw")
    junk = finding("microsoft-junk", "error", "microsoft.scl", "received.hops.2.raw")
    linked = {item.name: item for item in link_causes([junk, delay], SEVERITY_RANK)}
    assert linked["microsoft-junk"].follows_from == []


def test_roots_ordered_by_consequence_severity():
    # A warning that leads to an error comes before an unrelated warning.
    tls = finding("received-no-tls", "warning", "received.plain_hops")
    dkim = finding("dkim-only-esp-signature", "warning", "verdicts.dkim.0.domain")
    dmarc = finding("dmarc-fail", "error", "verdicts.dmarc", "verdicts.dkim")
    linked = [item.name for item in link_causes([dmarc, tls, dkim], SEVERITY_RANK)]
    assert linked == ["dkim-only-esp-signature", "received-no-tls", "dmarc-fail"]


def test_blocked_sender_decides_junk():
    # SFV:BLK skips spam filtering, so the folder follows from the Blocked Senders list and
    # not from the authentication chain that the junk finding also cites.
    spf = finding("spf-not-aligned", "info", "verdicts.spf", "verdicts.spf_aligned", fix="Optional: align SPF.")
    dmarc_none = finding("dmarc-none", "warning", "verdicts.dmarc", fix="Publish DMARC.")
    compauth = finding("compauth-fail", "warning", "verdicts.compauth", "verdicts.dmarc", "verdicts.spf")
    blocked = finding("microsoft-blocked-sender", "warning", "microsoft.sfv", "microsoft.scl", fix="Ask the recipient.")
    blocked.evidence[0] = ("microsoft.sfv", "BLK")
    junk = finding("microsoft-junk", "error", "microsoft.scl", "microsoft.sfv", "verdicts.compauth")
    linked = {item.name: item for item in link_causes([junk, compauth, blocked, dmarc_none, spf], SEVERITY_RANK)}
    assert linked["microsoft-junk"].follows_from == ["microsoft-blocked-sender"]
    assert linked["microsoft-blocked-sender"].follows_from == []
    assert linked["compauth-fail"].follows_from == ["dmarc-none", "spf-not-aligned"]


def test_spam_verdict_keeps_chain():
    # SFV:SPM is the filter's own verdict, so the authentication chain still leads to it.
    dmarc_none = finding("dmarc-none", "warning", "verdicts.dmarc")
    compauth = finding("compauth-fail", "warning", "verdicts.compauth", "verdicts.dmarc")
    spam = finding("microsoft-spam", "warning", "microsoft.sfv")
    spam.evidence[0] = ("microsoft.sfv", "SPM")
    junk = finding("microsoft-junk", "error", "microsoft.scl", "microsoft.sfv", "verdicts.compauth")
    linked = {item.name: item for item in link_causes([junk, compauth, spam, dmarc_none], SEVERITY_RANK)}
    assert linked["microsoft-junk"].follows_from == ["dmarc-none", "microsoft-spam"]


def test_info_root_after_warning_root():
    spf = finding("spf-not-aligned", "info", "verdicts.spf", fix="Optional: align SPF.")
    dmarc_none = finding("dmarc-none", "warning", "verdicts.dmarc", fix="Publish DMARC.")
    compauth = finding("compauth-fail", "error", "verdicts.compauth", "verdicts.dmarc", "verdicts.spf")
    linked = link_causes([compauth, spf, dmarc_none], SEVERITY_RANK)
    assert [item.name for item in linked] == ["dmarc-none", "spf-not-aligned", "compauth-fail"]


def test_summary_info_step_last():
    spf = finding("spf-not-aligned", "info", "verdicts.spf", fix="Optional: align SPF.")
    dmarc_none = finding("dmarc-none", "warning", "verdicts.dmarc", fix="Publish DMARC.")
    tls = finding("received-no-tls", "warning", "received.plain_hops", fix="Turn on TLS.")
    compauth = finding("compauth-fail", "error", "verdicts.compauth", "verdicts.dmarc", "verdicts.spf")
    subject = SimpleNamespace(label="a.eml", could_not_check=False, findings=link_causes([compauth, tls, spf, dmarc_none], SEVERITY_RANK))
    steps = [step.step for step in summarise_changes([subject], SEVERITY_RANK).steps]
    assert steps == ["Publish DMARC.", "Turn on TLS.", "Optional: align SPF."]
