"""Terminal: the summary tables first, then one line per message and the input errors."""

from typing import TextIO

from rich.table import Table
from rich.text import Text

from diag.audit.formats import reason_of
from diag.audit.rows import Row, RowCollector
from diag.audit.summary import CHECK_LABELS, CHECKS
from diag.report.terminal import TONE_STYLE, make_console
from diag.report.view import clean, result_tone

# Findings named per row of the domain and receiver tables; the JSON summary has five.
TABLE_FINDINGS = 3
# Columns of the domain and receiver tables: the results DMARC uses ("aligned": the domain
# aligns with From). The raw SPF rate is in the pass-rate line above them, so that the
# tables fit 100 columns.
CHECK_COLUMNS = {"spf_aligned": "SPF aligned", "dkim": "DKIM aligned", "dmarc": "DMARC", "compauth": "compauth"}


def percent(check: dict) -> str:
    """Return a pass rate as "93.5 % of 200", or "n/a" when no message carried the check."""
    if check["rate"] is None:
        return "n/a"
    return f"{check['rate'] * 100:.1f} % of {check['known']}"


def short_percent(check: dict) -> str:
    """Return a pass rate as "94%" for table cells, or "n/a"."""
    return "n/a" if check["rate"] is None else f"{check['rate'] * 100:.0f}%"


def group_table(title: str, groups: list[dict]) -> Table:
    table = Table(title=title, title_justify="left",
                  caption="pass rates: share of the messages that carry the check; aligned: the domain aligns with From (RFC 7489)")
    table.add_column("name", no_wrap=True, overflow="ellipsis", max_width=28)
    table.add_column("messages", justify="right", no_wrap=True)
    for heading in CHECK_COLUMNS.values():
        table.add_column(heading, justify="right", no_wrap=True)
    table.add_column("top findings", ratio=1, min_width=20, overflow="fold")
    for group in groups:
        findings = ", ".join(f"{item['name']} ({item['count']})" for item in group["top_findings"][:TABLE_FINDINGS])
        table.add_row(clean(group["name"]), str(group["messages"]), *(short_percent(group["checks"][check]) for check in CHECK_COLUMNS), findings)
    return table


class Sink(RowCollector):
    payload = None

    def __init__(self, stream: TextIO, header: dict) -> None:
        super().__init__()
        self.console = make_console(stream)

    def finish(self, summary: dict) -> None:
        console = self.console
        console.print(Text(f"maildiag audit: {summary['messages']} messages, {summary['messages_with_findings']} with findings, "
                           f"{summary['input_errors']} input errors", style="bold"))
        period = summary["period"]
        if "first" in period:
            console.print(Text(f"Messages dated {clean(period['first'])} to {clean(period['last'])} (Date field)"
                               + (f"; {period['undated']} without a readable Date" if period["undated"] else "")))
        console.print(Text("Pass rates: " + "; ".join(f"{CHECK_LABELS[check]} {percent(summary['checks'][check])}" for check in CHECKS)))
        if self.errors:
            console.print(Text(f"{len(self.errors)} input errors: listed at the end", style="red"))

        if summary["findings_by_name"]:
            findings = Table(title="Findings by frequency", title_justify="left")
            for column in ("finding", "severity", "count"):
                findings.add_column(column, justify="right" if column == "count" else "left")
            for item in summary["findings_by_name"]:
                findings.add_row(item["name"], item["severity"], str(item["count"]))
            console.print(findings)
        if summary["sender_domains"]:
            console.print(group_table("Per sending organisational domain", summary["sender_domains"]))
        if summary["receivers"]:
            console.print(group_table("Per receiver", summary["receivers"]))

        delays = summary["hop_delays"]
        if delays.get("hops"):
            console.print(Text(f"Hop delays over {delays['hops']} hops: p50 {delays['p50']:g} s, p90 {delays['p90']:g} s, "
                               f"p99 {delays['p99']:g} s, max {delays['max']:g} s"))

        if self.records:
            console.print(Text("\nMessages", style="bold"))
        for record in self.records:
            console.print(self._message_line(record))

        if self.errors:
            console.print(Text(f"\nInput errors ({len(self.errors)})", style="bold red"))
        for error in self.errors:
            console.print(Text(clean(error["message"])))

        if self.skipped:
            console.print(Text(f"\nSkipped inputs ({len(self.skipped)})", style="bold"))
        for entry in self.skipped:
            console.print(Text(f"{clean(entry['source'])}: {clean(reason_of(entry))}"))

    @staticmethod
    def _message_line(record: Row) -> Text:
        line = Text(clean(record.path))
        if record.mbox:
            line.append(f" #{record.index}")
        if record.message_id:
            line.append(f" {clean(record.message_id)}")
        line.append(f"  {record.date[:10] if record.date else '-'}  {clean(record.subject or '-')}")
        line.append(f"  {clean(record.from_domain or '-')}  ")
        for check in CHECKS:
            word = getattr(record, check) or "-"
            line.append(f"{check}=")
            line.append(clean(word), style=TONE_STYLE.get(result_tone(word), ""))
            line.append(" ")
        if record.findings:
            line.append(" " + ", ".join(name for name, _ in record.findings))
        return line
