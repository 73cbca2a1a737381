"""Generate rule documentation for `maildiag rules` and `maildiag rules explain NAME`.

Everything printed comes from the rule files, and every rule gets the same headings, so the
documentation cannot drift from what the engine evaluates.
"""

import textwrap
from typing import TextIO

from diag.engine.loader import Rule
from diag.engine.templates import render
from diag.errors import UsageError

WIDTH = 88


def print_rule_list(rules: list[Rule], stream: TextIO) -> None:
    """Write one line per rule: code, name, severity, category and title."""
    header = ("CODE", "NAME", "SEVERITY", "CATEGORY", "TITLE")
    rows = [(rule.code, rule.name, rule.severity, rule.category, rule.title) for rule in rules]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(4)]

    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        stream.write("  ".join([*cells, row[4]]).rstrip() + "\n")
    stream.write(f"\n{len(rules)} rules. Run 'maildiag rules explain NAME' for one rule's documentation.\n")


def find_rule(rules: list[Rule], key: str) -> Rule:
    """Return the rule whose name, code or alias is `key` (case-insensitive); raise UsageError."""
    requested = key.strip().casefold()
    for rule in rules:
        if requested in (selector.casefold() for selector in rule.selectors()):
            return rule
    raise UsageError(f"no rule named {key}; run 'maildiag rules' to list them")


def explain_rule(rules: list[Rule], key: str, stream: TextIO) -> None:
    """Write the documentation of the rule selected by name, code or alias."""
    rule = find_rule(rules, key)

    stream.write(f"{rule.name} ({rule.code}): {rule.title}\n")
    stream.write(f"Severity: {rule.severity}. Confidence: {rule.confidence}. Category: {rule.category}. "
                 f"Needs: {', '.join(rule.needs)}.\n")
    if rule.aliases:
        stream.write(f"Also selected by: {', '.join(rule.aliases)}.\n")
    stream.write(f"Defined in: {rule.path}\n")

    _section(stream, "What it checks", [
        f"Fails when {rule.when.describe()}.",
        *([f"Not applicable unless {rule.applies.describe()}."] if rule.applies else []),
        *([f"Reports an error (could not check) when {rule.error_when.describe()}."] if rule.error_when else []),
        *([f"Not applicable when {' or '.join(rule.defer_to)} fails for the same message, which explains it."] if rule.defer_to else []),
    ])
    _section(stream, "Why it matters", [rule.why])
    _section(stream, "How to fix", _fix_steps(rule), numbered=True)
    _section(stream, "Known problems", [rule.known_problems or "None recorded."])
    _section(stream, "Examples", [f"fails: {path}" for path in rule.samples_fail] + [f"passes: {path}" for path in rule.samples_pass])
    _section(stream, "References", [f"{reference.title}: {reference.url}" for reference in rule.references])


def _fix_steps(rule: Rule) -> list[str]:
    # Rendered with no facts and `docs` true: each step shows its fallbacks ("your domain") in
    # place of a message's values, and steps that depend on the message can show every branch.
    steps = [render(step, {}, None, rule.origin(f"fix[{index}]"), docs=True) for index, step in enumerate(rule.fix)]
    return [step for step in steps if step] or ["See the references."]


def _section(stream: TextIO, heading: str, paragraphs: list[str], numbered: bool = False) -> None:
    stream.write(f"\n{heading}\n")
    for index, paragraph in enumerate(paragraphs, start=1):
        prefix = f"  {index}. " if numbered else "  "
        text = " ".join(paragraph.split())
        # Addresses stay whole so that terminals can still open them.
        wrapped = textwrap.fill(
            text, width=WIDTH, initial_indent=prefix, subsequent_indent=" " * len(prefix),
            break_long_words=False, break_on_hyphens=False,
        )
        stream.write(wrapped + "\n")
