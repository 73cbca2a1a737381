"""Each rule's own samples, run through the whole pipeline: reader, fact collectors, engine.

A fail sample must make the rule fail, and a pass sample must make it pass (not merely be
not applicable, which would prove nothing). Only message samples are run here; rules whose
samples are zone files or SES account facts are tested with their DNS and SES checks.
"""

from pathlib import Path

import pytest

from diag.engine.loader import load_rules
from diag.pipeline import AnalyzeOptions, analyze_bytes

REPOSITORY = Path(__file__).resolve().parent.parent
MESSAGE_SUFFIXES = {".txt", ".eml", ".hdr"}
RULES = load_rules([])


def sample_cases():
    for rule in RULES:
        if "dns" in rule.needs:
            # Rules on DNS answers run in test_dns_rules_samples.py, test_dnsjoin.py and test_verify_rules.py.
            continue
        for expected, samples in (("fail", rule.samples_fail), ("pass", rule.samples_pass)):
            for sample in samples:
                if Path(sample).suffix.lower() in MESSAGE_SUFFIXES:
                    yield pytest.param(rule.name, sample, expected, id=f"{rule.name}-{Path(sample).name}")


def outcome_of(rule_name: str, sample: str) -> dict:
    data = (REPOSITORY / sample).read_bytes()
    report = analyze_bytes(data, source=sample, options=AnalyzeOptions(rules=RULES))
    return next(outcome for outcome in report["outcomes"] if outcome["name"] == rule_name)


@pytest.mark.parametrize("rule_name, sample, expected", list(sample_cases()))
def test_rule_sample(rule_name, sample, expected):
    outcome = outcome_of(rule_name, sample)
    assert outcome["outcome"] == expected, outcome.get("detail")


def test_every_message_rule_has_samples():
    names = {case.values[0] for case in sample_cases()}
    header_rules = {rule.name for rule in RULES if set(rule.needs) <= {"headers", "message"}}
    assert header_rules <= names


def finding_of(rule_name: str, sample: str, extra_facts: dict | None = None) -> dict:
    """Return the rule's full result (message, fix, why) when it fails, else its outcome summary."""
    data = (REPOSITORY / sample).read_bytes()
    options = AnalyzeOptions(rules=RULES, extra_facts=extra_facts or {})
    report = analyze_bytes(data, source=sample, options=options)
    found = [finding for finding in report["findings"] if finding["name"] == rule_name]
    if found:
        return found[0]
    return next(outcome for outcome in report["outcomes"] if outcome["name"] == rule_name)


def text_of(outcome: dict) -> str:
    return " ".join([outcome.get("message", ""), *outcome.get("fix", [])])


# Findings judged against the facts of a whole message: which rule steps aside for which
# cause, and what the message and fix must and must not say.
# (sample, rule, outcome, text that must appear, text that must not appear)
CROSS_RULE_CASES = [
    # A list changed the message after DMARC passed at the first ARC hop.
    ("samples/rules/forwarded-auth-broken/fail.txt", "forwarded-auth-broken", "fail",
     ["members.lists.example.org", "sealed by lists.example.org", "dmarc=pass", "trusted ARC sealers", "arc=pass"],
     ["Easy DKIM", "spf=pass for lists.example.org"]),
    ("samples/rules/forwarded-auth-broken/fail.txt", "dmarc-fail", "not_applicable", [], []),
    ("samples/rules/forwarded-auth-broken/fail.txt", "dkim-fail", "not_applicable", [], []),
    ("samples/rules/forwarded-auth-broken/fail.txt", "dkim-only-esp-signature", "not_applicable", [], []),
    ("samples/rules/forwarded-auth-broken/fail.txt", "spf-fail", "not_applicable", [], []),
    ("samples/rules/forwarded-auth-broken/fail.txt", "spf-not-aligned", "not_applicable", [], []),
    ("samples/rules/forwarded-auth-broken/fail.txt", "content-no-list-unsubscribe", "not_applicable", [], []),
    # An application server that sends directly, not through Amazon SES.
    ("samples/rules/spf-fail/direct-server.txt", "spf-fail", "fail",
     ["192.0.2.45 (billing02.office.example.org)", "`ip4:192.0.2.45`", "no Feedback-ID or X-SES-Outgoing", "SES SMTP interface"],
     ["include:amazonses.com ~all", "custom MAIL FROM"]),
    ("samples/rules/spf-fail/direct-server.txt", "dmarc-fail", "fail",
     ["which aligns with example.org but did not pass", "192.0.2.45", "SPF is aligned (MAIL FROM example.org)"],
     ["Optionally make SPF align", "Easy DKIM for the SES identity"]),
    ("samples/rules/spf-fail/ses-custom-mail-from.txt", "spf-fail", "fail",
     ["came through Amazon SES (Feedback-ID, X-SES-Outgoing, Message-ID, DKIM-Signature, Received)", "`v=spf1 include:amazonses.com ~all`"],
     ["ip4:"]),
    # Blocked senders and softpass at Microsoft 365.
    ("samples/rules/microsoft-blocked-sender/fail.txt", "microsoft-blocked-sender", "fail",
     ["recipient's own Blocked Senders list (SFV:BLK)", "Junk Email folder (dest:J)", "Get-MailboxJunkEmailConfiguration"],
     ["anti-spam policy (SFV:SKB)"]),
    ("samples/rules/microsoft-blocked-sender/skb.txt", "microsoft-blocked-sender", "fail",
     ["anti-spam policy (SFV:SKB)", "organisation's administrator"], ["(SFV:BLK)"]),
    ("samples/rules/microsoft-blocked-sender/fail.txt", "microsoft-junk", "fail",
     ["Blocked Senders list (SFV:BLK)", "microsoft-blocked-sender finding"],
     ["failed composite authentication", "Review the content"]),
    ("samples/rules/microsoft-junk/softpass-bulk.txt", "microsoft-junk", "fail",
     ["only soft-passed (reason 202)", "BCL 7"], ["failed composite authentication"]),
    ("samples/rules/received-no-tls/fail.txt", "received-no-tls", "fail",
     ["A later hop (mail-out.example.org to mx.example.net) used TLS", "on the sending side"], []),
    ("samples/rules/microsoft-junk/cat-bulk-paste.txt", "microsoft-junk", "fail",
     ["SRV:BULK", "If this is transactional mail", "billing.example.com", "own SES configuration set"], ["(BCL "]),
    ("samples/rules/compauth-fail/softpass-aligned-dkim.txt", "compauth-fail", "fail",
     ["reason=202", "found no DMARC record (dmarc=none)", '`_dmarc.example.org TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.org"`', "p=quarantine"],
     ["Make SPF or DKIM pass and align", "Give example.org aligned authentication"]),
    # The mailbox, not Exchange Online Protection, chose Junk Email.
    ("samples/rules/microsoft-mailbox-junk/fail.txt", "microsoft-mailbox-junk", "fail",
     ["SCL 1, SFV:NSPM", "(dest:J, RF:JunkEmail)", "Safe Senders", "Get-InboxRule"], []),
    ("samples/rules/microsoft-blocked-sender/fail.txt", "microsoft-mailbox-junk", "not_applicable", [], []),
    # Wording: the receiver's action, provider names, alignment that already holds.
    ("samples/rules/microsoft-junk/fail.txt", "compauth-fail", "fail",
     ["action=quarantine", "acted on the DMARC policy of example.com"], ["rejected"]),
    ("samples/rules/compauth-fail/oreject.txt", "compauth-fail", "fail",
     ["action=oreject records that example.com publishes p=reject", "instead of rejecting it"], []),
    ("samples/rules/dkim-only-esp-signature/fail.txt", "dkim-only-esp-signature", "fail", ["(Amazon SES)"], ["(amazonses)"]),
    ("samples/rules/spf-not-aligned/fail.txt", "spf-not-aligned", "fail",
     ["amazonses.com in us-east-1", "SPF alignment is optional", "Optional: set a custom MAIL FROM domain"],
     ["Make sure DKIM aligns", "Sign with DKIM for"]),
    ("samples/rules/dmarc-policy-none-seen/fail.txt", "dmarc-policy-none-seen", "fail",
     ["publishes a DMARC policy of p=none", "p=quarantine"], []),
]


@pytest.mark.parametrize(
    "sample, rule_name, expected, present, absent",
    CROSS_RULE_CASES,
    ids=[f"{rule}-{Path(sample).parent.name}-{Path(sample).stem}" for sample, rule, *_ in CROSS_RULE_CASES],
)
def test_rule_in_context(sample, rule_name, expected, present, absent):
    outcome = finding_of(rule_name, sample)
    assert outcome["outcome"] == expected, outcome.get("detail")
    text = text_of(outcome)
    for phrase in present:
        assert phrase in text
    for phrase in absent:
        assert phrase not in text


def test_dmarc_fail_title_fits_aligned_spf():
    outcome = finding_of("dmarc-fail", "samples/rules/spf-fail/direct-server.txt")
    assert "neither" not in outcome["title"]


def test_dmarc_fail_why_names_no_provider():
    outcome = finding_of("dmarc-fail", "samples/rules/spf-fail/direct-server.txt")
    assert "SES" not in outcome["why"]
    assert "amazonses" not in outcome["why"]


def test_policy_none_is_info():
    assert finding_of("dmarc-policy-none-seen", "samples/rules/dmarc-policy-none-seen/fail.txt")["severity"] == "info"


def test_spf_fix_shows_known_record():
    known = {"spf": {"record": "v=spf1 mx include:amazonses.com -all", "mailfrom_domain": "example.org"}}
    outcome = finding_of("spf-fail", "samples/rules/spf-fail/direct-server.txt", {"verify": known})
    assert "`v=spf1 ip4:192.0.2.45 mx include:amazonses.com -all`" in outcome["fix"][0]
