"""Summarise an audit: pass rates, findings by frequency, per sending domain, per receiver, hop delays.

The summary is built from one compact record per message (`message_record`), added as the
messages finish, so that the JSON Lines and CSV outputs never hold the whole batch.
"""

import math
from array import array
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from diag import exitcodes
from diag.pipeline import SEVERITY_ORDER

# "spf" is the receiver's SPF result for any MAIL FROM domain. "spf_aligned" and "dkim" count
# only the results that DMARC can use, whose domain aligns with From (RFC 7489 section 3.1).
CHECKS = ("spf", "spf_aligned", "dkim", "dmarc", "compauth")
# Column labels for the tables: which pass each rate counts.
CHECK_LABELS = {
    "spf": "SPF pass (any domain)",
    "spf_aligned": "SPF aligned pass",
    "dkim": "DKIM aligned pass",
    "dmarc": "DMARC pass",
    "compauth": "compauth pass",
}
# Findings listed per domain and per receiver.
TOP_FINDINGS = 5
PERCENTILES = (50, 90, 99)
# Upper bounds, in seconds, of the hop-delay histogram shown in the HTML report.
DELAY_BUCKETS = (1, 10, 60, 300, 1800, 3600)
NO_DOMAIN = "(no From domain)"
NO_RECEIVER = "(no trusted Authentication-Results)"

# Authentication-Results authserv-ids of large receivers, matched on the id or its
# parent domain, and the name people know them by.
RECEIVER_NAMES = (
    ("mx.google.com", "Gmail"),
    ("yahoo.com", "Yahoo"),
    ("aol.com", "Yahoo (AOL)"),
    ("protection.outlook.com", "Microsoft 365"),
    ("outlook.com", "Outlook.com"),
    ("icloud.com", "iCloud Mail"),
    ("mail.ru", "Mail.ru"),
    ("yandex.net", "Yandex"),
    ("gmx.net", "GMX"),
    ("web.de", "WEB.DE"),
)


def receiver_label(message: dict) -> str:
    """Return the name of the receiver whose Authentication-Results were trusted.

    Microsoft 365 writes its field without an authserv-id (facts/trust records `how:
    microsoft`). Known ids are named with the id kept in brackets, because an id alone
    (atlas-production.v2-mail-prod1-gq1.omega.yahoo.com) does not tell most readers who it is.
    """
    trusted = (message.get("auth") or {}).get("trusted")
    if not trusted:
        return NO_RECEIVER
    if trusted.get("how") == "microsoft":
        return "Microsoft 365"
    authserv_id = trusted.get("authserv_id") or ""
    for suffix, name in RECEIVER_NAMES:
        if authserv_id == suffix or authserv_id.endswith("." + suffix):
            return f"{name} ({authserv_id})"
    return authserv_id or NO_RECEIVER


def dkim_word(verdicts: dict) -> str | None:
    """Return the DKIM result that counts for DMARC: the best aligned signature's result.

    `pass` needs a passing signature aligned with From (RFC 7489 section 3.1.1).
    `not-aligned` means signatures were checked but none aligns, and `none` that the
    receiver reported the message unsigned.
    """
    if verdicts.get("dkim_aligned_pass"):
        return "pass"
    if verdicts.get("dkim_aligned_result"):
        return verdicts["dkim_aligned_result"]
    if verdicts.get("dkim_signed") is False:
        return "none"
    if verdicts.get("dkim"):
        return "not-aligned"
    return None


def spf_aligned_word(verdicts: dict) -> str | None:
    """Return the SPF result that counts for DMARC: `pass` only when the MAIL FROM domain aligns with From.

    An SPF pass for a domain that does not align (an ESP's bounce domain, such as
    amazonses.com) is `not-aligned` (RFC 7489 section 3.1.2). Other results are returned as
    they are, and None when SPF passed but the alignment is unknown (no smtp.mailfrom
    domain or no From domain in the message).
    """
    result = verdicts.get("spf")
    if result != "pass":
        return result
    aligned = verdicts.get("spf_aligned")
    if aligned is None:
        return None
    return "pass" if aligned else "not-aligned"


def message_record(message: dict) -> dict:
    """Return the fields of one message report that the summary, CSV and HTML table use."""
    verdicts = message.get("verdicts") or {}
    sender = (message.get("identities") or {}).get("from") or {}
    microsoft = message.get("microsoft") or {}
    hops = (message.get("received") or {}).get("hops") or []
    fields = message.get("header_fields") or {}
    return {
        "path": message["source"]["path"],
        "index": message["source"]["index"],
        "mbox": bool(message["source"].get("mbox")),
        "date": fields.get("date"),
        "date_raw": fields.get("date_raw"),
        "subject": fields.get("subject"),
        "message_id": fields.get("message_id"),
        "from_address": sender.get("address"),
        "from_display_name": sender.get("display_name"),
        "from_domain": sender.get("domain"),
        "org_domain": sender.get("org_domain"),
        "receiver": receiver_label(message),
        "spf": verdicts.get("spf"),
        "spf_aligned": spf_aligned_word(verdicts),
        "dkim": dkim_word(verdicts),
        "dmarc": verdicts.get("dmarc"),
        "compauth": verdicts.get("compauth"),
        "reason": verdicts.get("compauth_reason"),
        "scl": microsoft.get("scl"),
        "bcl": microsoft.get("bcl"),
        "cat": microsoft.get("cat"),
        "findings": [[finding["name"], finding["severity"]] for finding in message["findings"]],
        "temperror": any(outcome["outcome"] == "error" for outcome in message["outcomes"]),
        "delays": [hop["delay_seconds"] for hop in hops if hop.get("delay_seconds") is not None],
    }


@dataclass
class CheckCounts:
    """Results of one check: how many messages carried it, and the result of each."""

    results: Counter = field(default_factory=Counter)

    def add(self, word: str | None) -> None:
        if word is not None:
            self.results[word] += 1

    def as_dict(self) -> dict:
        known = sum(self.results.values())
        passed = self.results.get("pass", 0)
        return {
            "pass": passed,
            "known": known,
            # None when no message carried the check, so 0 % is never shown for "unknown".
            "rate": round(passed / known, 4) if known else None,
            "results": dict(sorted(self.results.items())),
        }


@dataclass
class GroupCounts:
    """Messages of one sending domain or one receiver."""

    messages: int = 0
    checks: dict = field(default_factory=lambda: {check: CheckCounts() for check in CHECKS})
    findings: Counter = field(default_factory=Counter)

    def add(self, record: dict) -> None:
        self.messages += 1
        for check in CHECKS:
            self.checks[check].add(record[check])
        self.findings.update(name for name, _ in record["findings"])

    def as_dict(self, name: str) -> dict:
        return {
            "name": name,
            "messages": self.messages,
            "checks": {check: counts.as_dict() for check, counts in self.checks.items()},
            "top_findings": [{"name": finding, "count": count} for finding, count in _most_common(self.findings, TOP_FINDINGS)],
        }


def _most_common(counter: Counter, limit: int | None = None) -> list[tuple[str, int]]:
    """Return the commonest items, ties by name, so that the order does not depend on arrival."""
    ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return ordered if limit is None else ordered[:limit]


def percentile(sorted_values, percent: float) -> float:
    """Return the nearest-rank percentile of an ascending sequence (no interpolation)."""
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class Period:
    """The earliest and latest Date field of the messages, compared as instants."""

    def __init__(self) -> None:
        self.first: tuple[float, str] | None = None
        self.last: tuple[float, str] | None = None
        self.dated = 0
        self.undated = 0

    def add(self, date: str | None) -> None:
        """Count one message; `date` is ISO 8601 with an offset, as header_fields writes it."""
        if date is None:
            self.undated += 1
            return
        self.dated += 1
        moment = (datetime.fromisoformat(date).timestamp(), date)
        if self.first is None or moment < self.first:
            self.first = moment
        if self.last is None or moment > self.last:
            self.last = moment

    def as_dict(self) -> dict:
        period = {"dated": self.dated, "undated": self.undated}
        if self.first is not None:
            period["first"] = self.first[1]
            period["last"] = self.last[1]
        return period


class SummaryBuilder:
    """Accumulates message records and input errors, and returns the summary dictionary."""

    def __init__(self, fail_on: str = "error") -> None:
        self.fail_on = fail_on
        self.messages = 0
        self.input_errors = 0
        self.skipped = 0
        self.period = Period()
        self.severities = Counter({"error": 0, "warning": 0, "info": 0})
        self.findings = Counter()
        self.finding_severity: dict[str, str] = {}
        self.messages_with_findings = 0
        self.checks = {check: CheckCounts() for check in CHECKS}
        self.domains: dict[str, GroupCounts] = {}
        self.receivers: dict[str, GroupCounts] = {}
        # Doubles in an array: 8 bytes a hop, so 100,000 messages with 5 hops take 4 MB.
        self.delays = array("d")
        self.temporary = False
        self.failing = False

    def add(self, record: dict) -> None:
        self.messages += 1
        threshold = SEVERITY_ORDER[self.fail_on]
        if record["findings"]:
            self.messages_with_findings += 1
        for name, severity in record["findings"]:
            self.severities[severity] += 1
            self.findings[name] += 1
            self.finding_severity[name] = severity
            if SEVERITY_ORDER[severity] >= threshold:
                self.failing = True
        self.temporary = self.temporary or record["temperror"]

        for check in CHECKS:
            self.checks[check].add(record[check])
        self.period.add(record["date"])
        self.domains.setdefault(record["org_domain"] or NO_DOMAIN, GroupCounts()).add(record)
        self.receivers.setdefault(record["receiver"], GroupCounts()).add(record)
        self.delays.extend(record["delays"])

    def add_error(self) -> None:
        self.input_errors += 1

    def add_skipped(self) -> None:
        self.skipped += 1

    def exit_code(self) -> int:
        """Return 1 for findings at or above --fail-on, else 2 for input errors, else 3 for temperror, else 0.

        Findings come first because the audit was run to find them, and an unreadable file in
        the batch must not hide them.
        """
        if self.failing:
            return exitcodes.FINDINGS
        if self.input_errors:
            return exitcodes.USAGE
        if self.temporary:
            return exitcodes.COULD_NOT_CHECK
        return exitcodes.OK

    def summary(self) -> dict:
        return {
            "messages": self.messages,
            "input_errors": self.input_errors,
            "skipped": self.skipped,
            "period": self.period.as_dict(),
            "findings": dict(self.severities),
            "messages_with_findings": self.messages_with_findings,
            "checks": {check: counts.as_dict() for check, counts in self.checks.items()},
            "findings_by_name": [
                {"name": name, "severity": self.finding_severity[name], "count": count}
                for name, count in _most_common(self.findings)
            ],
            "sender_domains": [counts.as_dict(name) for name, counts in self._by_size(self.domains)],
            "receivers": [counts.as_dict(name) for name, counts in self._by_size(self.receivers)],
            "hop_delays": self._delays(),
            "exit_code": self.exit_code(),
        }

    @staticmethod
    def _by_size(groups: dict[str, GroupCounts]) -> list[tuple[str, GroupCounts]]:
        return sorted(groups.items(), key=lambda item: (-item[1].messages, item[0]))

    def _delays(self) -> dict:
        """Return hop-delay percentiles in seconds; negative delays (clock skew) count as they are."""
        values = sorted(self.delays)
        result: dict = {"hops": len(values)}
        if not values:
            return result
        for percent in PERCENTILES:
            result[f"p{percent}"] = percentile(values, percent)
        result["max"] = values[-1]
        histogram = []
        lower = 0
        for bound in DELAY_BUCKETS:
            count = _count_between(values, lower, bound)
            histogram.append({"le": bound, "count": count})
            lower = bound
        histogram.append({"le": None, "count": _count_between(values, lower, math.inf)})
        result["histogram"] = histogram
        return result


def _count_between(values, lower: float, upper: float) -> int:
    """Count values with lower < value <= upper; the first bucket also takes zero and negative delays."""
    start = 0 if lower == 0 else bisect_right(values, lower)
    return bisect_right(values, upper) - start
