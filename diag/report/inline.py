"""Split rule text (messages, why, fix steps) into plain text and `code spans`.

Rule files write records and commands as Markdown code spans. Each reporter renders the
pieces its own way: <code> in HTML, a code span in Markdown, a style in the terminal. The
rules are CommonMark's (https://spec.commonmark.org/0.31.2/#code-spans): a run of N
backticks opens a span that the next run of exactly N backticks closes, and a run with no
closing partner is literal text.
"""

import re
from typing import NamedTuple

_BACKTICK_RUN = re.compile(r"`+")


class Segment(NamedTuple):
    text: str
    code: bool


def split_code_spans(text: str) -> list[Segment]:
    """Return `text` as segments; code segments carry the span's content without its backticks."""
    segments: list[Segment] = []
    plain_start = 0
    search_from = 0
    while True:
        opening = _BACKTICK_RUN.search(text, search_from)
        if opening is None:
            break
        closing = _closing_run(text, opening.end(), len(opening.group()))
        if closing is None:
            # No partner: these backticks are literal, and the search goes on after them.
            search_from = opening.end()
            continue
        if opening.start() > plain_start:
            segments.append(Segment(text[plain_start:opening.start()], False))
        segments.append(Segment(_span_content(text[opening.end():closing.start()]), True))
        plain_start = search_from = closing.end()

    if plain_start < len(text):
        segments.append(Segment(text[plain_start:], False))
    return segments


def _closing_run(text: str, start: int, length: int) -> re.Match | None:
    for run in _BACKTICK_RUN.finditer(text, start):
        if len(run.group()) == length:
            return run
    return None


def _span_content(content: str) -> str:
    # CommonMark: line endings become spaces, and one space is stripped from each side when
    # both sides have one and the content is not only spaces.
    content = content.replace("\r\n", " ").replace("\n", " ")
    if len(content) >= 2 and content[0] == " " and content[-1] == " " and content.strip(" "):
        content = content[1:-1]
    return content


def plain_text(text: str) -> str:
    """Return `text` with the backticks of its code spans removed."""
    return "".join(segment.text for segment in split_code_spans(text))
