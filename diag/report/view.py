"""Turn a report dictionary into display rows shared by the terminal, HTML and Markdown reporters.

The report is the dictionary that diag.pipeline.build_report returns. Every section but the
top-level keys is optional here, because `maildiag dns` reports list `domains` instead of
`messages` and because a fact that could not be gathered is absent (docs/facts.md).
"""

import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from diag.facts.esp import provider_names
from diag.report.causes import ChangeSummary, link_causes, summarise_changes
from diag.report.dnsview import DnsRow, SpfTree, dns_rows, failed_lookups, failed_lookups_text, names_outside_zones, spf_trees
from diag.report.evidence import dns_answer_line, format_value, is_dns_answer  # noqa: F401 (re-exported for junit and older callers)
from diag.report.outcomes import OutcomeGroup, OutcomeView, did_not_apply_group, group_not_run, missing_sources, not_applied_note
from diag.verify.summary import verification_rows

SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}

# Reason shown for trusting an Authentication-Results field, keyed by the `auth.trusted.how`
# values that diag.facts.trust writes.
TRUST_REASONS = {
    "--authserv-id": "its authserv-id matches --authserv-id",
    "topmost": "it is the topmost Authentication-Results field",
    "microsoft": "Microsoft 365 writes it without an authserv-id",
}

# RFC 8601 result words, plus Microsoft's bestguesspass and softpass. "none" counts as good
# because it is also the Microsoft CAT value of a message with no verdict.
GOOD_RESULTS = {"pass", "bestguesspass", "none"}
BAD_RESULTS = {"fail", "softfail", "permerror", "temperror", "softpass", "policy"}

# Words of the DNS summary of `maildiag dns` reports. "none" is not used there, because it
# counts as good above.
DNS_GOOD_RESULTS = {"ok", "agree"}
DNS_BAD_RESULTS = {"missing", "invalid", "multiple", "wrong target", "txt instead", "doubled", "loop", "mismatch", "disagree", "null mx"}

# Microsoft X-Forefront-Antispam-Report fields shown in the verdict table, in this order.
MICROSOFT_FIELDS = (("cat", "CAT"), ("sfv", "SFV"), ("scl", "SCL"), ("bcl", "BCL"))


def clean(value: object) -> str:
    """Return `value` as one printable string: control characters and lone surrogates become \\xNN escapes.

    Header values are attacker-controlled. An ESC byte would drive the reader's terminal and
    is invalid in XML 1.0, and a lone surrogate (from undecodable bytes) cannot be encoded.
    """
    text = value if isinstance(value, str) else format_value(value)
    out = []
    for char in text:
        category = unicodedata.category(char)
        # U+FFFE and U+FFFF are noncharacters that XML 1.0 also forbids.
        if char in "\t\n" or (category not in ("Cc", "Cs") and char not in "\ufffe\uffff"):
            out.append(char)
        else:
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
    return "".join(out)


@dataclass
class VerdictRow:
    check: str
    result: str
    detail: str = ""


@dataclass
class Trusted:
    receiver: str
    reason: str
    # 0 for the topmost header field, as in docs/facts.md.
    positions: list[int]
    lines: list[str]

    @property
    def field_numbers(self) -> str:
        """The positions counted from 1, as a person counts header fields: "1, 2"."""
        return ", ".join(str(position + 1) for position in self.positions)


@dataclass
class FindingView:
    name: str
    code: str
    title: str
    severity: str
    confidence: str
    category: str
    message: str
    why: str
    evidence: list[tuple[str, str]]
    fix: list[str]
    references: list[tuple[str, str]]
    # Filled by diag.report.causes.link_causes: the root causes this finding follows from,
    # and, for a root cause, the findings that follow from it.
    follows_from: list[str] = field(default_factory=list)
    leads_to: list[str] = field(default_factory=list)


@dataclass
class SubjectView:
    """One analysed message, or one domain in a `dns` report."""

    kind: str
    label: str
    input_kind: str = ""
    trusted: Trusted | None = None
    verdicts: list[VerdictRow] = field(default_factory=list)
    findings: list[FindingView] = field(default_factory=list)
    passes: list[OutcomeView] = field(default_factory=list)
    not_applicable: list[OutcomeView] = field(default_factory=list)
    could_not_check: list[OutcomeView] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    # Rules that did not run, one group per reason, then the rules that did not apply.
    skipped: list[OutcomeGroup] = field(default_factory=list)
    # Domains only: the DNS summary.
    dns_rows: list[DnsRow] = field(default_factory=list)
    spf_trees: list[SpfTree] = field(default_factory=list)
    # Domains only: the lookups that failed temporarily (timeout, SERVFAIL, REFUSED).
    failed_lookups: list[dict] = field(default_factory=list)
    # The names whose lookups failed only because no zone file covers them (--offline --zone).
    outside_zones: list[str] = field(default_factory=list)
    # Messages only: maildiag's own DKIM, ARC, SPF and DMARC results (verify.*).
    verification: list[VerdictRow] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {severity: sum(1 for finding in self.findings if finding.severity == severity) for severity in SEVERITIES}

    @property
    def root_count(self) -> int:
        """The number of findings that follow from no other finding."""
        return sum(1 for finding in self.findings if not finding.follows_from)

    @property
    def skipped_count(self) -> int:
        return sum(len(group.rules) for group in self.skipped)


@dataclass
class ReportView:
    tool: str
    command: str
    subjects: list[SubjectView]
    input_errors: list[tuple[str, str]]
    counts: dict[str, int]
    changes: ChangeSummary = field(default_factory=ChangeSummary)

    @property
    def total_findings(self) -> int:
        return sum(self.counts.values())

    @property
    def headline(self) -> str:
        """One line such as "2 findings (1 error, 1 warning) in 1 message"."""
        noun = "domain" if self.subjects and all(subject.kind == "domain" for subject in self.subjects) else "message"
        if self.command.startswith("ses"):
            # `maildiag ses check` reports one region, `ses config` one settings file.
            noun = "SES region" if self.command == "ses check" else "SES configuration"
        scope = plural(len(self.subjects), noun)
        if not self.total_findings:
            headline = f"no findings in {scope}"
        else:
            parts = [plural(self.counts[severity], severity) for severity in SEVERITIES if self.counts[severity]]
            headline = f"{plural(self.total_findings, 'finding')} ({', '.join(parts)}) in {scope}"
        failed = [lookup for subject in self.subjects for lookup in subject.failed_lookups]
        if failed:
            # A temporary DNS failure is not a pass, so it leads the headline when nothing was found.
            could_not_check = f"could not check: {failed_lookups_text(failed)}"
            headline = f"{could_not_check} in {scope}" if not self.total_findings else f"{headline}; {could_not_check}"
        if self.input_errors:
            headline += f", {plural(len(self.input_errors), 'input error')}"
        return headline


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def iter_subjects(report: dict) -> list[tuple[str, dict]]:
    """Return (kind, entry) for every message and every domain of the report, messages first."""
    subjects = [("domain" if is_domain_entry(entry) else "message", entry) for entry in report.get("messages") or []]
    subjects += [("domain", entry) for entry in report.get("domains") or []]
    return subjects


def is_missing_source(outcome: dict) -> bool:
    """Tell whether a not_applicable outcome lacks a whole fact source (headers, message, dns, ses)."""
    return bool(missing_sources(outcome))


def is_domain_entry(entry: dict) -> bool:
    """Tell whether a report entry is a `maildiag dns` domain: DNS facts and no message read."""
    return "dns" in entry and "input" not in entry


def subject_domain(entry: dict) -> str:
    """Return the domain a `maildiag dns` entry checked."""
    return str(entry.get("domain") or (entry.get("dns") or {}).get("domain") or "")


def subject_labels(report: dict) -> list[str]:
    """Return a display label per subject, numbering items that share a file (mbox, batch)."""
    subjects = iter_subjects(report)
    path_counts = Counter(_source_path(entry) for kind, entry in subjects if kind == "message")
    labels = []
    for kind, entry in subjects:
        if kind == "domain":
            labels.append(clean(subject_domain(entry) or "unnamed domain"))
            continue
        path = _source_path(entry)
        label = "standard input" if path == "-" else path
        if path_counts[path] > 1:
            label += f" #{(entry.get('source') or {}).get('index', 0)}"
        labels.append(clean(label))
    return labels


def _source_path(entry: dict) -> str:
    return str((entry.get("source") or {}).get("path", "-"))


def build_view(report: dict) -> ReportView:
    """Return the display rows of the whole report."""
    subjects = [
        _subject_view(kind, entry, label)
        for (kind, entry), label in zip(iter_subjects(report), subject_labels(report))
    ]

    counts = dict.fromkeys(SEVERITIES, 0)
    for subject in subjects:
        for severity, count in subject.counts.items():
            counts[severity] += count

    tool = report.get("tool") or {}
    return ReportView(
        tool=clean(f"{tool.get('name', 'maildiag')} {tool.get('version', '')}".strip()),
        command=clean(report.get("command", "")),
        subjects=subjects,
        input_errors=[(clean(error.get("source", "")), clean(error.get("message", ""))) for error in report.get("errors") or []],
        counts=counts,
        changes=summarise_changes(subjects, SEVERITY_RANK),
    )


def _subject_view(kind: str, entry: dict, label: str) -> SubjectView:
    view = SubjectView(kind=kind, label=label)
    view.input_kind = clean((entry.get("input") or {}).get("kind", ""))
    view.trusted = trusted_view(entry)
    view.verdicts = verdict_rows(entry)
    view.verification = [VerdictRow(**{key: clean(value) for key, value in row.items()}) for row in verification_rows(entry)]

    findings = sorted(entry.get("findings") or [], key=lambda finding: SEVERITY_RANK.get(finding.get("severity"), 3))
    # The trusted block above the findings already prints the raw header, so evidence points to it.
    shown_above = {"auth.trusted.raw"} if view.trusted is not None else set()
    view.findings = link_causes([finding_view(finding, shown_above) for finding in findings], SEVERITY_RANK)

    not_run = []
    for outcome in entry.get("outcomes") or []:
        row = OutcomeView(
            name=clean(outcome.get("name", "")),
            code=clean(outcome.get("code", "")),
            title=clean(outcome.get("title", "")),
            detail=clean(outcome.get("detail", "")),
            reason=clean(outcome.get("reason", "")),
        )
        if outcome.get("outcome") == "pass":
            view.passes.append(row)
        elif outcome.get("outcome") == "not_applicable":
            if missing_sources(outcome):
                not_run.append((outcome, row))
            else:
                row.detail = clean(not_applied_note(outcome))
                view.not_applicable.append(row)
        elif outcome.get("outcome") == "error":
            view.could_not_check.append(row)

    view.skipped = group_not_run(entry, not_run)
    if view.not_applicable:
        view.skipped.append(did_not_apply_group(view.not_applicable, kind))

    if kind == "domain":
        view.dns_rows = [DnsRow(clean(row.check), clean(row.result), clean(row.detail)) for row in dns_rows(entry.get("dns") or {}, subject_domain(entry))]
        view.spf_trees = [SpfTree(clean(tree.domain), [clean(line) for line in tree.lines]) for tree in spf_trees(entry.get("dns") or {})]
        view.failed_lookups = failed_lookups(entry.get("dns") or {})
    if view.could_not_check:
        view.outside_zones = [clean(name) for name in names_outside_zones(failed_lookups(entry.get("dns") or {}))]

    for repair in (entry.get("input") or {}).get("repairs") or []:
        where = f"line {repair.get('line')}" if repair.get("line") else "whole input"
        view.repairs.append(clean(f"{where}: {repair.get('kind', 'repair')}: {repair.get('detail', '')}"))
    return view


def trusted_view(entry: dict) -> Trusted | None:
    """Return which Authentication-Results field was trusted and why, or None when none was."""
    trusted = (entry.get("auth") or {}).get("trusted")
    if not trusted:
        return None

    raw = trusted.get("raw") or []
    lines = [raw] if isinstance(raw, str) else list(raw)
    receiver = trusted.get("authserv_id") or ("Microsoft 365" if trusted.get("how") == "microsoft" else "unnamed receiver")
    how = trusted.get("how", "")
    return Trusted(
        receiver=clean(receiver),
        reason=clean(TRUST_REASONS.get(how, how)),
        positions=[int(position) for position in trusted.get("positions") or []],
        lines=[clean(line) for line in lines],
    )


def verdict_rows(entry: dict) -> list[VerdictRow]:
    """Return the receiver's verdicts: SPF, each DKIM signature, DMARC, compauth, ARC, Microsoft fields."""
    verdicts = entry.get("verdicts") or {}
    rows = []

    if "spf" in verdicts:
        rows.append(VerdictRow("SPF", clean(verdicts["spf"]), _spf_detail(entry, verdicts)))

    signatures = verdicts.get("dkim") or []
    if verdicts and (not signatures or verdicts.get("dkim_signed") is False):
        # Every clause is dkim=none (RFC 8601 section 2.7.1), or the receiver reported no
        # signature at all: one row says so, where a missing row would hide the gap.
        rows.append(VerdictRow("DKIM", "none", "message not signed"))
    else:
        for signature in signatures:
            rows.append(VerdictRow("DKIM", clean(signature.get("result", "")), _dkim_detail(signature)))

    if "dmarc" in verdicts:
        rows.append(VerdictRow("DMARC", clean(verdicts["dmarc"]), _dmarc_detail(verdicts)))

    if "compauth" in verdicts:
        rows.append(VerdictRow("compauth", clean(verdicts["compauth"]), _compauth_detail(verdicts)))

    if "arc" in verdicts:
        rows.append(VerdictRow("ARC", clean(verdicts["arc"]), _arc_detail(entry)))

    microsoft = entry.get("microsoft") or {}
    decoded = microsoft.get("decoded") or {}
    for key, label in MICROSOFT_FIELDS:
        if key in microsoft:
            rows.append(VerdictRow(f"Microsoft {label}", clean(microsoft[key]), _decoded_detail(decoded.get(key))))
    return rows


def _spf_detail(entry: dict, verdicts: dict) -> str:
    parts = []
    if verdicts.get("spf_domain"):
        parts.append(f"smtp.mailfrom={verdicts['spf_domain']}")
    from_domain = ((entry.get("identities") or {}).get("from") or {}).get("domain")
    if "spf_aligned" in verdicts:
        alignment = "aligned" if verdicts["spf_aligned"] else "not aligned"
        parts.append(f"{alignment} with From {from_domain}" if from_domain else alignment)
    return clean(", ".join(parts))


def _dkim_detail(signature: dict) -> str:
    if not signature.get("domain") and signature.get("result") == "none":
        # dkim=none: the message was not signed (RFC 8601 section 2.7.1), so no d= can align.
        return clean(signature.get("comment") or "message not signed")
    parts = [f"d={signature.get('domain') or '?'}"]
    if signature.get("selector"):
        parts.append(f"s={signature['selector']}")
    if "aligned" in signature:
        parts.append("aligned with From" if signature["aligned"] else "not aligned with From")
    if signature.get("esp"):
        parts.append(f"sending service {provider_names().get(signature['esp'], signature['esp'])}")
    if signature.get("reason"):
        parts.append(f"reason: {signature['reason']}")
    return clean(", ".join(parts))


def _dmarc_detail(verdicts: dict) -> str:
    parts = []
    if verdicts.get("dmarc_policy"):
        parts.append(f"p={verdicts['dmarc_policy']}")
    if verdicts.get("dmarc_action"):
        parts.append(f"action={verdicts['dmarc_action']}")
    if verdicts.get("header_from"):
        parts.append(f"header.from={verdicts['header_from']}")
    return clean(", ".join(parts))


def _compauth_detail(verdicts: dict) -> str:
    reason = verdicts.get("compauth_reason")
    if not reason:
        return ""
    decoded = verdicts.get("compauth_decoded") or {}
    if not decoded:
        return clean(f"reason {reason}")
    if decoded.get("documented") is False:
        return clean(f"reason {reason}: not documented by Microsoft")
    group = f" ({decoded['group']})" if decoded.get("group") else ""
    return clean(f"reason {reason}{group}: {decoded.get('meaning') or ''}".rstrip(": "))


def _arc_detail(entry: dict) -> str:
    arc = entry.get("arc") or {}
    sets = arc.get("sets") or []
    parts = []
    if sets:
        parts.append(plural(len(sets), "ARC set"))
    if arc.get("broken_instance") is not None:
        parts.append(f"chain broken at i={arc['broken_instance']}")
    return clean(", ".join(parts))


def _decoded_detail(decoded: dict | None) -> str:
    if not decoded:
        return ""
    if decoded.get("documented") is False:
        return clean(decoded.get("meaning") or "not documented by Microsoft")
    return clean(decoded.get("meaning", ""))


# Evidence text for a fact the report already prints above the findings.
SHOWN_ABOVE = "(the trusted header above)"


def finding_view(finding: dict, shown_above: set[str] | frozenset[str] = frozenset()) -> FindingView:
    """Return a finding with every value made printable and evidence values as text.

    Evidence whose path is in `shown_above` reads SHOWN_ABOVE instead of repeating the value.
    """
    return FindingView(
        name=clean(finding.get("name", "")),
        code=clean(finding.get("code", "")),
        title=clean(finding.get("title", "")),
        severity=clean(finding.get("severity", "")),
        confidence=clean(finding.get("confidence", "")),
        category=clean(finding.get("category", "")),
        message=clean(finding.get("message", "")),
        why=clean(finding.get("why", "")).strip(),
        evidence=[_evidence_row(item, shown_above) for item in finding.get("evidence") or []],
        fix=[clean(step).strip() for step in finding.get("fix") or []],
        references=[(clean(ref.get("title", "")), clean(ref.get("url", ""))) for ref in finding.get("references") or []],
    )


def _evidence_row(item: dict, shown_above: set[str] | frozenset[str]) -> tuple[str, str]:
    path = clean(item.get("path", ""))
    if path in shown_above:
        return path, SHOWN_ABOVE
    return path, clean(format_value(item.get("value")))


def result_tone(result: str) -> str:
    """Return "good" for a result a sender wants to see, "bad" for a failure, else ""."""
    lowered = result.lower()
    if lowered in GOOD_RESULTS or lowered in DNS_GOOD_RESULTS:
        return "good"
    if lowered in BAD_RESULTS or lowered in DNS_BAD_RESULTS:
        return "bad"
    return ""


def is_web_url(url: str) -> bool:
    """Return True for http and https URLs, the only ones a report turns into links."""
    return url.lower().startswith(("https://", "http://"))
