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

from diag.report.causes import ChangeSummary
from diag.report.inline import split_code_spans
from diag.report.outcomes import OutcomeGroup
from diag.report.view import FindingView, OutcomeView, ReportView, SubjectView, build_view, is_web_url, plural, result_tone

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}
TONE_STYLE = {"good": "green", "bad": "red", "": ""}
# Code spans of rule text (records, commands) stand out by style; their backticks are dropped.
CODE_STYLE = "bold"


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


def render(report: dict, stream: TextIO, show_all: bool = False) -> None:
    """Write the report as styled text to `stream`; `show_all` lists every rule that did not run, not only the count per reason."""
    console = make_console(stream)
    if console.no_color:
        # Rich pads lines to the console width. Plain text for a file or a ticket should not
        # carry that trailing white space.
        buffer = io.StringIO()
        _print_report(make_console_like(console, buffer), report, show_all)
        stream.writelines(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())
        return
    _print_report(console, report, show_all)


def make_console_like(console: Console, buffer: io.StringIO) -> Console:
    """Return a plain console of the same width as `console` that writes to `buffer`."""
    return Console(
        file=buffer, force_terminal=False, no_color=True, color_system=None,
        markup=False, emoji=False, highlight=False, width=console.width,
    )


def _print_report(console: Console, report: dict, show_all: bool) -> None:
    view = build_view(report)

    console.print(_heading(view))
    if view.changes.steps:
        console.print()
        _print_changes(console, view.changes, len(view.subjects))
    for subject in view.subjects:
        console.print()
        _print_subject(console, subject, show_all, view.command)

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
    elif view.total_findings or any(subject.failed_lookups for subject in view.subjects):
        style = "bold yellow"
    else:
        style = "bold green"
    text.append(view.headline, style=style)
    return text


def rich_text(text: str) -> Text:
    """Return rule text as a rich Text, its code spans styled; Text never reads markup, so header values stay literal."""
    pieces = [(segment.text, CODE_STYLE) if segment.code else segment.text for segment in split_code_spans(text)]
    return Text.assemble(*pieces, overflow="fold")


def _print_changes(console: Console, changes: ChangeSummary, subject_count: int) -> None:
    """Print "What to change first": the distinct first fix step of each root cause."""
    console.print(Text("What to change first", style="bold"))
    steps = Table.grid(padding=(0, 1, 0, 0))
    steps.add_column(no_wrap=True)
    steps.add_column(overflow="fold")
    for number, change in enumerate(changes.steps, start=1):
        where = f" (in {len(change.subjects)} of {subject_count})" if subject_count > 1 else ""
        line = Text.assemble((", ".join(change.rules), "bold"), f"{where}: ")
        line.append_text(rich_text(change.step))
        steps.add_row(f"{number}.", line)
    console.print(Padding(steps, (0, 0, 0, 2)))

    for note in changes.notes():
        console.print(Padding(Text(note, overflow="fold"), (0, 0, 0, 2)))


def _print_subject(console: Console, subject: SubjectView, show_all: bool = False, command: str = "") -> None:
    title = subject.label
    if subject.input_kind == "headers":
        title += " (headers only)"
    console.print(Rule(Text(title, style="bold"), align="left"))

    # `maildiag ses` subjects are an account or a settings file, with no received headers.
    if subject.kind == "message" and not command.startswith("ses"):
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
        heading = f"Findings ({len(subject.findings)})"
        followers = len(subject.findings) - subject.root_count
        if followers:
            heading += f": {plural(subject.root_count, 'root cause')} first, then {followers} that follow from {'it' if subject.root_count == 1 else 'them'}"
        console.print(Text(heading, style="bold"))
        for finding in subject.findings:
            console.print(_finding_block(finding))
    else:
        console.print(Text("No findings.", style="green"))

    _print_outcome_line(console, "Checked and passed", subject.passes, "green")
    _print_outcome_line(console, _could_not_check_label(subject, command), subject.could_not_check, "yellow", show_all)
    _print_skipped(console, subject, show_all, command)

    if subject.repairs:
        console.print(Text(f"Input repairs ({len(subject.repairs)}):", style="bold"))
        for repair in subject.repairs:
            console.print(Padding(Text(repair, overflow="fold"), (0, 0, 0, 2)))


def _could_not_check_label(subject: SubjectView, command: str) -> str:
    """Return the heading of the rules that could not judge, from the reasons of their errors."""
    reasons = {row.reason for row in subject.could_not_check}
    # An outcome without a reason comes from a report written before outcomes had one,
    # when the engine called every error a temporary failure.
    if reasons <= {"temperror", ""} and subject.outside_zones:
        names = ", ".join(subject.outside_zones)
        return f"Could not check, no zone file covers {names}; add one with --zone, or drop --offline"
    if reasons <= {"temperror", ""}:
        return "Could not check, a lookup failed temporarily; retry later"
    if command.startswith("ses"):
        return "Could not check, an AWS call was denied or failed (see ses-lookups-failed)"
    return "Could not check, a lookup was denied or failed"


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
        rich_text(finding.message),
    ]
    if finding.follows_from:
        body.append(Text.assemble(("Follows from: ", "bold"), ", ".join(finding.follows_from), overflow="fold"))
    if finding.leads_to:
        body.append(Text.assemble(("Leads to: ", "bold"), ", ".join(finding.leads_to), overflow="fold"))

    if finding.evidence:
        body.append(Text("Evidence:", style="bold"))
        body.append(Padding(_evidence_table(finding.evidence), (0, 0, 0, 2)))

    if finding.why:
        why = Text.assemble(("Why: ", "bold"), overflow="fold")
        why.append_text(rich_text(finding.why))
        body.append(why)

    if finding.fix:
        body.append(Text("Fix:", style="bold"))
        steps = Table.grid(padding=(0, 1, 0, 0))
        steps.add_column(no_wrap=True)
        steps.add_column(overflow="fold")
        for number, step in enumerate(finding.fix, start=1):
            steps.add_row(f"{number}.", rich_text(step))
        body.append(Padding(steps, (0, 0, 0, 2)))

    if finding.references:
        body.append(Text("References:", style="bold"))
        # A URL longer than the column folds; the link style (OSC 8, shown only on a
        # terminal) keeps the folded URL clickable.
        rows = [Text.assemble(f"{title} <", (url, f"link {url}" if is_web_url(url) else ""), ">", overflow="fold") for title, url in finding.references]
        body.append(Padding(Group(*rows), (0, 0, 0, 2)))

    layout = Table.grid(padding=(0, 1, 0, 0))
    layout.add_column(width=7, no_wrap=True)
    layout.add_column(overflow="fold")
    layout.add_row(Text(finding.severity.upper(), style=SEVERITY_STYLE.get(finding.severity, "bold")), Group(*body))
    return Padding(layout, (0, 0, 1, 2))


# An evidence path longer than this goes on its own line, so the values keep a wide column.
EVIDENCE_PATH_WIDTH = 32


def _evidence_table(evidence: list[tuple[str, str]]) -> Group:
    """Return evidence as aligned `path  value` rows; a multi-line value (a DNS tree, DKIM results) keeps its lines.

    A path longer than EVIDENCE_PATH_WIDTH takes a line of its own with the value indented
    below it, so one long path does not narrow every value column.
    """
    short_paths = [path for path, _value in evidence if len(path) <= EVIDENCE_PATH_WIDTH]
    width = max((len(path) for path in short_paths), default=0)
    rows = []
    for path, value in evidence:
        if len(path) > EVIDENCE_PATH_WIDTH:
            rows.append(Text(path, style="cyan", overflow="fold"))
            rows.append(Padding(Text(value, overflow="fold"), (0, 0, 0, 4)))
            continue
        row = Table.grid(padding=(0, 1, 0, 0))
        row.add_column(width=width, no_wrap=True)
        row.add_column(overflow="fold")
        row.add_row(Text(path, style="cyan"), Text(value, overflow="fold"))
        rows.append(row)
    return Group(*rows)


def _print_outcome_line(console: Console, label: str, outcomes: list[OutcomeView], style: str, show_all: bool = False) -> None:
    if not outcomes:
        return
    names = ", ".join(f"{outcome.name} ({outcome.detail})" if show_all and outcome.detail else outcome.name for outcome in outcomes)
    console.print(Text.assemble((f"{label} ({len(outcomes)}): ", style), names, overflow="fold"))


def _print_skipped(console: Console, subject: SubjectView, show_all: bool, command: str) -> None:
    """Print one line per reason that rules did not run; `show_all` adds the rules of each group."""
    if not subject.skipped:
        return
    hint = "" if show_all else f"; maildiag -v {command or 'COMMAND'} ... lists them"
    console.print(Text(f"Not run or not applicable ({subject.skipped_count}{hint}):", style="bold"))
    for group in subject.skipped:
        console.print(Padding(rich_text(group.line), (0, 0, 0, 2)))
        if show_all:
            console.print(Padding(_group_rules(group), (0, 0, 0, 4)))


def _group_rules(group: OutcomeGroup) -> Group:
    rows = []
    for rule in group.rules:
        line = Text.assemble((rule.name, "dim"), f" ({rule.code}) {rule.title}", overflow="fold")
        if rule.detail and group.key == "not-applicable":
            line.append(f": {rule.detail}")
        rows.append(line)
    return Group(*rows)

