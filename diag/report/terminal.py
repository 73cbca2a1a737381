"""Terminal report: what a person reads after a paste, and can forward as it is."""

import io
import os
from typing import TextIO

from rich import box
from rich.console import Console, Group
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from diag.report.view import FindingView, OutcomeView, ReportView, SubjectView, build_view, result_tone

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}
TONE_STYLE = {"good": "green", "bad": "red", "": ""}


def make_console(stream: TextIO) -> Console:
    """Return a console on `stream`: colour only on a terminal and only without NO_COLOR.

    NO_COLOR is the convention at https://no-color.org: set to any non-empty value, it disables colour.
    """
    is_terminal = _isatty(stream)
    colour = is_terminal and not os.environ.get("NO_COLOR")
    return Console(
        file=stream,
        force_terminal=is_terminal,
        no_color=not colour,
        color_system="auto" if colour else None,
        # Header values are untrusted: they must never be read as rich markup or emoji codes.
        markup=False,
        emoji=False,
        highlight=False,
        # Pasted into a ticket or a mail, 100 columns keeps long header lines readable.
        width=None if is_terminal else 100,
    )


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def render(report: dict, stream: TextIO) -> None:
    """Write the report as styled text to `stream`."""
    console = make_console(stream)
    if console.no_color:
        # Rich pads lines to the console width. Plain text for a file or a ticket should not
        # carry that trailing white space.
        buffer = io.StringIO()
        _print_report(make_console_like(console, buffer), report)
        stream.writelines(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())
        return
    _print_report(console, report)


def make_console_like(console: Console, buffer: io.StringIO) -> Console:
    """Return a plain console of the same width as `console` that writes to `buffer`."""
    return Console(
        file=buffer, force_terminal=False, no_color=True, color_system=None,
        markup=False, emoji=False, highlight=False, width=console.width,
    )


def _print_report(console: Console, report: dict) -> None:
    view = build_view(report)

    console.print(_heading(view))
    for subject in view.subjects:
        console.print()
        _print_subject(console, subject)

    if view.input_errors:
        console.print()
        console.print(Rule(Text(f"Input errors ({len(view.input_errors)})", style="bold red"), style="red"))
        for source, message in view.input_errors:
            # Input errors usually start with the file name already.
            text = Text(message) if message.startswith(source) else Text.assemble((source, "bold"), ": ", message)
            console.print(text, overflow="fold")


def _heading(view: ReportView) -> Text:
    text = Text.assemble((view.tool, "bold"))
    if view.command:
        text.append(f" {view.command}")
    text.append(": ")
    if view.counts["error"]:
        style = "bold red"
    elif view.total_findings:
        style = "bold yellow"
    else:
        style = "bold green"
    text.append(view.headline, style=style)
    return text


def _print_subject(console: Console, subject: SubjectView) -> None:
    title = subject.label
    if subject.input_kind == "headers":
        title += " (headers only)"
    console.print(Rule(Text(title, style="bold"), align="left"))

    if subject.kind == "message":
        console.print(_trusted_block(subject))
    if subject.verdicts:
        console.print(_verdict_table(subject.verdicts))
    if subject.verification:
        console.print(Text("Our verification (recomputed from the message and DNS now)", style="bold"))
        console.print(_verdict_table(subject.verification))
    if subject.dns_rows:
        console.print(_verdict_table(subject.dns_rows, heading="Record"))
    for tree in subject.spf_trees:
        console.print(Text(f"SPF include tree of {tree.domain}:", style="bold"))
        # Indent with padding, not spaces, so that a wrapped line keeps its depth.
        for line in tree.lines:
            depth = len(line) - len(line.lstrip(" "))
            console.print(Padding(Text(line.lstrip(" "), overflow="fold"), (0, 0, 0, 2 + depth)))

    console.print()
    if subject.findings:
        console.print(Text(f"Findings ({len(subject.findings)})", style="bold"))
        for finding in subject.findings:
            console.print(_finding_block(finding))
    else:
        console.print(Text("No findings.", style="green"))

    _print_outcome_line(console, "Checked and passed", subject.passes, "green")
    _print_outcome_line(console, "Could not check, retry later", subject.could_not_check, "yellow")
    _print_outcome_line(console, "Not applicable, facts absent", subject.not_applicable, "dim")
    if subject.not_run:
        console.print(Text(f"Not run ({subject.not_run}): rules that read message headers, a message body or SES account facts", style="dim"))

    if subject.repairs:
        console.print(Text(f"Input repairs ({len(subject.repairs)}):", style="bold"))
        for repair in subject.repairs:
            console.print(Padding(Text(repair, overflow="fold"), (0, 0, 0, 2)))


def _trusted_block(subject: SubjectView) -> Group:
    trusted = subject.trusted
    if trusted is None:
        return Group(
            Text(
                "No trusted Authentication-Results field: the receiver's verdicts are unknown. "
                "Copy the headers from the received message, not the sent one.",
                style="yellow",
                overflow="fold",
            )
        )

    where = trusted.field_numbers
    heading = Text.assemble(
        ("Trusted Authentication-Results", "bold"),
        " from ",
        (trusted.receiver, "bold"),
        f" (header field {where} from the top; {trusted.reason}):" if where else f" ({trusted.reason}):",
        overflow="fold",
    )
    lines = [Padding(Text(line, overflow="fold"), (0, 0, 0, 2)) for line in trusted.lines]
    return Group(heading, *lines)


def _verdict_table(rows: list, heading: str = "Check") -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, show_edge=False)
    table.add_column(heading, no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("Detail", overflow="fold")
    for row in rows:
        table.add_row(row.check, Text(row.result, style=_result_style(row.result)), row.detail)
    return table


def _result_style(result: str) -> str:
    return TONE_STYLE[result_tone(result)]


def _finding_block(finding: FindingView) -> Padding:
    """Return a finding as a severity column beside its text, so wrapped lines keep their indent."""
    body = [
        Text.assemble((finding.name, "bold"), f" ({finding.code}) {finding.title}", overflow="fold"),
        Text(finding.message, overflow="fold"),
    ]

    if finding.evidence:
        body.append(Text("Evidence:", style="bold"))
        rows = [Text.assemble((path, "cyan"), " = ", value, overflow="fold") for path, value in finding.evidence]
        body.append(Padding(Group(*rows), (0, 0, 0, 2)))

    if finding.why:
        body.append(Text.assemble(("Why: ", "bold"), finding.why, overflow="fold"))

    if finding.fix:
        body.append(Text("Fix:", style="bold"))
        steps = Table.grid(padding=(0, 1, 0, 0))
        steps.add_column(no_wrap=True)
        steps.add_column(overflow="fold")
        for number, step in enumerate(finding.fix, start=1):
            steps.add_row(f"{number}.", step)
        body.append(Padding(steps, (0, 0, 0, 2)))

    if finding.references:
        body.append(Text("References:", style="bold"))
        rows = [Text(f"{title} <{url}>", overflow="fold") for title, url in finding.references]
        body.append(Padding(Group(*rows), (0, 0, 0, 2)))

    layout = Table.grid(padding=(0, 1, 0, 0))
    layout.add_column(width=7, no_wrap=True)
    layout.add_column(overflow="fold")
    layout.add_row(Text(finding.severity.upper(), style=SEVERITY_STYLE.get(finding.severity, "bold")), Group(*body))
    return Padding(layout, (0, 0, 1, 2))


def _print_outcome_line(console: Console, label: str, outcomes: list[OutcomeView], style: str) -> None:
    if not outcomes:
        return
    names = ", ".join(f"{outcome.name} ({outcome.detail})" if outcome.detail else outcome.name for outcome in outcomes)
    console.print(Text.assemble((f"{label} ({len(outcomes)}): ", style), names, overflow="fold"))

