"""Find the page text that webmail adds above headers copied from its header views.

Two layouts are recognised, as published copies and how-to guides show them (for Gmail
support.cloudhq.net and mailflowauthority.com, for Outlook Web App support.rackspace.com):
- Gmail's "Show original" page starts with a summary table under an "Original Message"
  heading. Its rows are "Message ID", "Created at:", "From:", "To:", "Subject:", "SPF:",
  "DKIM:" and "DMARC:", and a "Learn more" link follows each result. The "Download Original"
  and "Copy to clipboard" buttons come next, then the raw header fields.
- Outlook on the web shows the header fields in a dialog titled "Message details".

Yahoo Mail's "View raw message" opens a window with the raw message alone, so no lines are
added there.
NOTE: only the English labels are recognised; a page in another language is read as before.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_GMAIL_TITLE = re.compile(r"original message|show original", re.IGNORECASE)
_OUTLOOK_TITLE = re.compile(r"message details", re.IGNORECASE)

# A summary row: the label, an optional colon, then a tab or spaces and the value. The result
# labels are matched in capitals only, as Gmail writes them, so that the reader's clean path
# can rule the summary out by looking for fields named exactly SPF, DKIM or DMARC.
_ROW = re.compile(
    r"((?i:message id|created at|created on|from|to|cc|subject|date)|SPF|DKIM|DMARC)[ \t]*:?(?:[ \t]+(.*))?\Z"
)
_BUTTONS = re.compile(r"(?:download original|copy to clipboard)(?:\s+(?:download original|copy to clipboard))*", re.IGNORECASE)
_LEARN_MORE = re.compile(r"\s*learn more\Z", re.IGNORECASE)
# The quotes that Gmail puts around the DKIM and DMARC result word: "'PASS' with domain ...".
_QUOTED_RESULT = re.compile(r"'([^'\s]+)'")

RESULT_LABELS = ("SPF", "DKIM", "DMARC")
# Labels that only the summary uses. A run of From, To and Subject alone is a header block.
_SUMMARY_ONLY_LABELS = frozenset({"message id", "created at", "created on", *RESULT_LABELS})
_IDENTITY_LABELS = frozenset({"from", "to", "cc", "subject", "date"})

# The summary has about ten rows, so the look-ahead stops well after that.
_MAX_SUMMARY_LINES = 30


@dataclass(frozen=True)
class PageText:
    """Lines of a webmail page found above the header fields, to be skipped."""

    # The repair kind: gmail-summary or page-title.
    kind: str
    # Index of the first line of the page text, and of the line where the header fields
    # start (blank lines after the page text included).
    start: int
    end: int
    detail: str


def find_page_text(texts: Sequence[str], start: int, starts_field: Callable[[str], bool]) -> PageText | None:
    """Return the webmail page text that begins at line `start`, or None when there is none.

    `texts` are the decoded lines of the input. `starts_field` returns whether a line starts
    a header field, which is where a Gmail summary ends when no buttons line does.
    """
    first = texts[start].strip()
    if _OUTLOOK_TITLE.fullmatch(first):
        detail = f"skipped the title of Outlook on the web's Message details dialog: {first}"
        return PageText("page-title", start, start + 1, detail)
    return _gmail_summary(texts, start, starts_field)


def _gmail_summary(texts: Sequence[str], start: int, starts_field: Callable[[str], bool]) -> PageText | None:
    """Read Gmail's Show original summary from line `start`, or return None when the lines form none."""
    # The heading alone is no evidence: "Original Message" also starts quoted replies.
    index = start
    evidence = False
    if _GMAIL_TITLE.fullmatch(texts[start].strip()):
        index += 1

    results: list[tuple[str, str]] = []
    seen: set[str] = set()
    last = start
    after_buttons = False
    limit = min(len(texts), start + _MAX_SUMMARY_LINES)
    while index < limit:
        text = texts[index].strip()
        if not text:
            index += 1
            continue
        if _LEARN_MORE.fullmatch(text):
            last = index
            index += 1
            continue
        if _BUTTONS.fullmatch(text):
            evidence = after_buttons = True
            last = index
            index += 1
            continue
        if after_buttons:
            break

        row = _ROW.fullmatch(text)
        if row is None:
            break
        label = row.group(1) if row.group(1) in RESULT_LABELS else row.group(1).lower()
        if label in seen or (label in _IDENTITY_LABELS and results):
            # The summary has each row once and lists From, To and Subject before the
            # results, so a repeated row or one after the results starts the raw header
            # block (the buttons line was not copied).
            break
        seen.add(label)
        evidence = evidence or label in _SUMMARY_ONLY_LABELS
        if label in RESULT_LABELS:
            results.append((label, _clean_result(row.group(2) or "")))
        last = index
        index += 1

    if not evidence or index == limit < len(texts):
        return None
    if index < len(texts) and not after_buttons and not starts_field(texts[index]):
        # The run stopped at text that is neither a header field nor page text.
        return None

    lines = f"line {start + 1}" if last == start else f"lines {start + 1}-{last + 1}"
    reported = "; ".join(f"{label}: {value}" for label, value in results) or "no SPF, DKIM or DMARC result"
    return PageText("gmail-summary", start, index, f"skipped Gmail's Show original summary ({lines}), which reported {reported}")


def _clean_result(value: str) -> str:
    """Remove the "Learn more" link text and the quotes around the result word."""
    value = _LEARN_MORE.sub("", value)
    return _QUOTED_RESULT.sub(r"\1", value, count=1).strip()
