"""Put a subject's root causes first and mark the findings that follow from them.

A receiver computes its verdicts in stages, each from the results of the stage before.
DMARC uses the SPF and DKIM results and their alignment (RFC 7489 section 4.2). Microsoft
365's compauth combines SPF, DKIM, DMARC and ARC, and the protection category (CAT) and the
spam verdict (SCL, SFV) that decide the folder come last ("Anti-spam message headers in
Microsoft 365", https://learn.microsoft.com/en-us/defender-office-365/message-headers-eop-mdo).
One missing Easy DKIM setup therefore shows up as five findings.

A finding follows from another when the other's subject fact (its first evidence path) sits
at an earlier stage and is among this finding's evidence: dmarc-fail lists `verdicts.dkim`,
the fact that dkim-only-esp-signature judges. Only the findings' own evidence is read, so
no link is invented for rules that do not cite each other's facts.

A verdict in DECIDING_VERDICTS overrides the stages before it: when a finding follows from
one, its other links are dropped, because an earlier fix would not change the outcome.
"""

from dataclasses import dataclass, field
from typing import Protocol

# Stage of a fact path in the receiver's computation, matched by the longest prefix.
# Records and account settings come first; transport and content facts have no stage.
FACT_STAGES = {
    "dns.": 0,
    "ses.": 0,
    "verdicts.dkim": 1,
    "verdicts.spf": 1,
    "verdicts.arc": 1,
    "arc.": 1,
    "dkim_signatures": 1,
    "verify.dkim": 1,
    "verify.spf": 1,
    "verify.arc": 1,
    "verdicts.dmarc": 2,
    "verify.dmarc": 2,
    "verdicts.compauth": 3,
    "microsoft.cat": 4,
    "microsoft.decoded.cat": 4,
    # SFV names the part of filtering that decided. BLK and SKB (a Blocked Senders list or an
    # anti-spam policy's blocked list) skip filtering, so they come before the SCL they set.
    "microsoft.sfv": 4,
    "microsoft.decoded.sfv": 4,
    "microsoft.": 5,
}

# Fact values that decide the outcome on their own. SFV:BLK and SFV:SKB mean the sender is on
# a blocked list and filtering was skipped ("Anti-spam message headers", SFV field), so no
# authentication or content change moves the message out of Junk Email.
DECIDING_VERDICTS = {
    "microsoft.sfv": {"BLK", "SKB"},
}


class Linkable(Protocol):
    name: str
    severity: str
    evidence: list[tuple[str, str]]
    fix: list[str]
    follows_from: list[str]
    leads_to: list[str]


def fact_stage(path: str) -> int | None:
    """Return the stage of a fact path, or None for facts outside the authentication chain."""
    best = None
    for prefix, stage in FACT_STAGES.items():
        if path.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, stage)
    return best[1] if best else None


def _overlaps(path: str, other: str) -> bool:
    """Tell whether two fact paths name the same fact or one contains the other."""
    return path == other or path.startswith(other + ".") or other.startswith(path + ".")


def link_causes(findings: list, severity_rank: dict[str, int]) -> list:
    """Fill `follows_from` and `leads_to` on each finding and return the findings, root causes first.

    Root causes are ordered by the most severe finding they lead to, then by stage. The
    findings that follow come after them in stage order, so the list reads as the chain.
    """
    primaries = [finding.evidence[0][0] if finding.evidence else "" for finding in findings]
    stages = [fact_stage(path) if path else None for path in primaries]

    parents: list[list[int]] = []
    for index, finding in enumerate(findings):
        paths = [path for path, _value in finding.evidence]
        parents.append([
            other
            for other in range(len(findings))
            if other != index
            and stages[index] is not None
            and stages[other] is not None
            and stages[other] < stages[index]
            and any(_overlaps(path, primaries[other]) for path in paths)
        ])

    for index, candidates in enumerate(parents):
        deciding = [other for other in candidates if _decides(findings[other])]
        if deciding:
            parents[index] = deciding

    roots = [_roots(index, parents) for index in range(len(findings))]

    def rank(index: int) -> int:
        return severity_rank.get(findings[index].severity, len(severity_rank))

    def stage_key(index: int) -> int:
        return stages[index] if stages[index] is not None else len(FACT_STAGES)

    root_indexes = [index for index in range(len(findings)) if not parents[index]]
    followers = [index for index in range(len(findings)) if parents[index]]
    # A root that is only informational comes after every root that needs a change.
    root_indexes.sort(key=lambda index: (_is_informational(findings[index]), min([rank(index)] + [rank(other) for other in followers if index in roots[other]]), stage_key(index), index))
    followers.sort(key=lambda index: (stage_key(index), rank(index), index))
    ordered = root_indexes + followers

    # Names are listed in report order, so "Leads to" reads as the chain.
    for index in ordered:
        findings[index].follows_from = [findings[root].name for root in ordered if root in roots[index] and root != index]
        findings[index].leads_to = [findings[other].name for other in ordered if other != index and index in roots[other]]
    return [findings[index] for index in ordered]


def _decides(finding) -> bool:
    if not finding.evidence:
        return False
    path, value = finding.evidence[0]
    return str(value).strip().upper() in DECIDING_VERDICTS.get(path, set())


def _is_informational(finding) -> bool:
    return finding.severity == "info"


def _roots(index: int, parents: list[list[int]]) -> set[int]:
    # Stages strictly increase along every link, so the walk always ends.
    if not parents[index]:
        return {index}
    found: set[int] = set()
    for parent in parents[index]:
        found |= _roots(parent, parents)
    return found


@dataclass
class ChangeStep:
    """One distinct first fix step of a root cause, with the rules and subjects that share it."""

    step: str
    rules: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)


@dataclass
class ChangeSummary:
    """The "What to change first" block: the deduplicated first steps, and the findings that follow from their root causes."""

    steps: list[ChangeStep] = field(default_factory=list)
    followers: list[str] = field(default_factory=list)
    # Steps left out of `steps` to keep the summary short.
    more: int = 0
    retry_subjects: int = 0

    def notes(self) -> list[str]:
        """Return the sentences shown under the steps: what was left out, what follows, what to retry."""
        notes = []
        if self.more:
            notes.append(f"{self.more} more root {'cause' if self.more == 1 else 'causes'} below.")
        if self.followers:
            verb = "follows" if len(self.followers) == 1 else "follow"
            notes.append(f"{join_names(self.followers)} {verb} from these: check again after the change.")
        if self.retry_subjects:
            notes.append("Some checks could not run because a lookup failed temporarily: run again later.")
        return notes


def join_names(names: list[str]) -> str:
    """Return names as "a, b and c"."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


# A summary longer than this is a second findings list; the rest stay in the findings.
MAX_SUMMARY_STEPS = 8


def summarise_changes(subjects: list, severity_rank: dict[str, int]) -> ChangeSummary:
    """Return the distinct first fix steps of every subject's root causes, most severe first.

    `subjects` are view.SubjectView objects whose findings link_causes has ordered.
    """
    summary = ChangeSummary()
    by_step: dict[str, tuple[tuple[bool, int], int, ChangeStep]] = {}
    for subject in subjects:
        if subject.could_not_check:
            summary.retry_subjects += 1
        for finding in subject.findings:
            if finding.follows_from:
                if finding.name not in summary.followers:
                    summary.followers.append(finding.name)
                continue
            if not finding.fix:
                continue
            step = finding.fix[0]
            severity = min([severity_rank.get(finding.severity, 3)] + [_rank_of(subject, name, severity_rank) for name in finding.leads_to])
            # Informational roots sort after every warning and error root.
            severity = (_is_informational(finding), severity)
            if step not in by_step:
                by_step[step] = (severity, len(by_step), ChangeStep(step))
            elif severity < by_step[step][0]:
                by_step[step] = (severity, by_step[step][1], by_step[step][2])
            change = by_step[step][2]
            if finding.name not in change.rules:
                change.rules.append(finding.name)
            if subject.label not in change.subjects:
                change.subjects.append(subject.label)

    ordered = [change for _severity, _order, change in sorted(by_step.values(), key=lambda item: (item[0], item[1]))]
    summary.steps = ordered[:MAX_SUMMARY_STEPS]
    summary.more = len(ordered) - len(summary.steps)
    return summary


def _rank_of(subject, name: str, severity_rank: dict[str, int]) -> int:
    for finding in subject.findings:
        if finding.name == name:
            return severity_rank.get(finding.severity, 3)
    return 3
