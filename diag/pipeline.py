"""Turn input bytes into a message report: read, gather facts, evaluate rules."""

import logging
from dataclasses import dataclass, field

from diag import __version__
from diag.engine.evaluate import evaluate_for_report, outcome_summary
from diag.engine.loader import Rule
from diag.facts.build import build_facts
from diag.messages.reader import read_message

log = logging.getLogger(__name__)

REPORT_SCHEMA_VERSION = "1.0"
SEVERITY_ORDER = {"info": 0, "warning": 1, "error": 2}


@dataclass
class AnalyzeOptions:
    rules: list[Rule]
    authserv_id: str | None = None
    offline: bool = True
    extra_facts: dict = field(default_factory=dict)
    # A diag.verify.collect.VerifySession when DNS answers are available (no --offline, or
    # --zone or --replay); None skips verify and the DNS facts (diag.dnscheck.message).
    verify_session: object | None = None


def analyze_bytes(data: bytes, source: str, options: AnalyzeOptions, index: int = 0) -> dict:
    """Return the report entry of one message. Raises InputError for unreadable input."""
    parsed = read_message(data, source=source, index=index)
    facts = build_facts(parsed, authserv_id=options.authserv_id)
    facts.update(options.extra_facts)
    if options.verify_session is not None:
        from diag.dnscheck.message import collect_message_dns
        from diag.facts.esp import add_verified_evidence
        from diag.verify.collect import verify_message

        verified = verify_message(data, facts, options.verify_session)
        if verified is not None:
            facts["verify"] = verified
            # A sending service's DKIM signature that verifies now shows that service signed it.
            add_verified_evidence(facts["identities"], verified)
        # Headers alone are enough to compare the receiver's verdicts with DNS as it is now.
        joined = collect_message_dns(options.verify_session.resolver, facts, options.verify_session.spf_results)
        if joined is not None:
            facts["dns"] = joined
    findings, summaries = evaluate_for_report(options.rules, facts)
    return _report(facts, findings, summaries)


def message_report(facts: dict, outcomes: list[dict]) -> dict:
    """Combine facts and rule outcomes into the per-message part of the JSON report."""
    findings = [outcome for outcome in outcomes if outcome["outcome"] == "fail"]
    return _report(facts, findings, [outcome_summary(outcome) for outcome in outcomes])


def _report(facts: dict, findings: list[dict], summaries: list[dict]) -> dict:
    findings.sort(key=lambda finding: -SEVERITY_ORDER[finding["severity"]])
    report = dict(facts)
    report["findings"] = findings
    report["outcomes"] = summaries
    return report


def build_report(command: str, messages: list[dict], errors: list[dict]) -> dict:
    """Wrap message reports and input errors into the versioned top-level report."""
    counts = {"error": 0, "warning": 0, "info": 0}
    for message in messages:
        for finding in message["findings"]:
            counts[finding["severity"]] += 1
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": "maildiag", "version": __version__},
        "command": command,
        "messages": messages,
        "errors": errors,
        "summary": {
            "messages": len(messages),
            "input_errors": len(errors),
            "findings": counts,
        },
    }


def exit_code_for(report: dict, fail_on: str) -> int:
    """Return 1 for a finding at or above `fail_on`, else 2 for an unreadable input, else 3 when
    a lookup failed temporarily, else 0."""
    from diag import exitcodes

    threshold = SEVERITY_ORDER[fail_on]
    temporary = False
    for message in report["messages"]:
        for finding in message["findings"]:
            if SEVERITY_ORDER[finding["severity"]] >= threshold:
                return exitcodes.FINDINGS
        if any(outcome["outcome"] == "error" for outcome in message["outcomes"]):
            temporary = True
    if report["errors"]:
        return exitcodes.USAGE
    return exitcodes.COULD_NOT_CHECK if temporary else exitcodes.OK
