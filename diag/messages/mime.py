"""Split a multipart body into its parts as the stdlib feed parser (compat32 policy) does.

email.feedparser reads a body line by line through generators, and compiles a regular
expression for each boundary, which re caches only up to 512 patterns while real
boundaries are unique per message. The parse of a 400-byte three-part body took about 50
microseconds (CPython 3.11, bench templates). This module finds the boundary lines with
str.find instead and builds the same Message tree. It handles the common shape only: one
line ending throughout, clean part headers followed by a blank line, and multipart parts
nested in multipart parts. For anything else (message/* or multipart/digest parts, a missing start
or close boundary, adjacent boundary lines, a part header the clean pattern does not
read) it returns None, and the caller uses the stdlib parser, which also records the
defects.

Boundary lines follow RFC 2046 section 5.1.1: "--" and the boundary at the start of a line,
"--" after it on the close delimiter, optional spaces or tabs, then the line ending. The
line ending before a boundary line belongs to the boundary, so it is removed from the
part before it (and from the preamble, or from a nested multipart's epilogue).
"""

import email.policy
from email.message import Message

from diag.messages.clean import split_fields

# The transfer encodings the feed parser accepts on a multipart without recording a
# defect (RFC 2045 section 6.4).
_MULTIPART_ENCODINGS = ("7bit", "8bit", "binary")


def split_multipart(message: Message, text: str, line_ending: str) -> Message | None:
    """Attach the parts of `text`, the body of multipart `message`, and return `message`.

    `text` is the body decoded as ASCII with surrogate escapes, as the stdlib bytes parser
    decodes it, and uses `line_ending` ("\\n" or "\\r\\n") on every line. Returns None when the body needs the stdlib parser; `message`
    may have been given parts by then, so the caller must not use it.
    """
    return message if _fill(message, text, 0, len(text), line_ending) else None


def _fill(message: Message, text: str, start: int, end: int, line_ending: str) -> bool:
    """Read text[start:end] as the body of multipart `message`. Return False when it needs the stdlib parser."""
    boundary = message.get_boundary()
    if boundary is None or message.get_content_type() == "multipart/digest":
        return False
    encoding = message.get("content-transfer-encoding", "8bit")
    if not isinstance(encoding, str) or encoding.lower() not in _MULTIPART_ENCODINGS:
        return False

    lines = _boundary_lines(text, start, end, "--" + boundary, line_ending)
    close = next((index for index, line in enumerate(lines) if line[2]), None)
    if close is None or close == 0:
        # The parser records a defect when the close boundary or a start boundary before it is missing.
        return False
    # Boundary lines after the close delimiter are epilogue text.
    lines = lines[: close + 1]

    first = lines[0][0]
    if first > start:
        message.preamble = _without_final_ending(text[start:first], line_ending)

    for (_, part_start, _), (next_line, _, _) in zip(lines, lines[1:]):
        if part_start == next_line:
            # The parser skips the second of two adjacent boundary lines.
            return False
        part = _part(text, part_start, next_line, line_ending)
        if part is None:
            return False
        message.attach(part)

    message.epilogue = text[lines[-1][1] : end]
    return True


def _boundary_lines(text: str, start: int, end: int, delimiter: str, line_ending: str) -> list[tuple[int, int, bool]]:
    """Return (line start, next line start, is close delimiter) for each boundary line in text[start:end]."""
    found = []
    position = text.find(delimiter, start, end)
    while position >= 0:
        if position == start or text[position - 1] == "\n":
            line_end = text.find("\n", position, end)
            next_line = end if line_end < 0 else line_end + 1
            rest = text[position + len(delimiter) : next_line]
            if rest.endswith(line_ending):
                rest = rest[: -len(line_ending)]
            close = rest.startswith("--")
            if close:
                rest = rest[2:]
            if not rest.strip(" \t"):
                found.append((position, next_line, close))
        position = text.find(delimiter, position + 1, end)
    return found


def _part(text: str, start: int, end: int, line_ending: str) -> Message | None:
    """Build the Message of the part text[start:end], which ends with the line ending before the next boundary."""
    if text.startswith(line_ending, start):
        # The part has no header fields because its first line is the blank line.
        header_end = start
        body_start = start + len(line_ending)
    else:
        blank = text.find("\n" + line_ending, start, end)
        if blank < 0:
            return None
        header_end = blank + 1
        body_start = blank + 1 + len(line_ending)

    part = Message(policy=email.policy.compat32)
    if header_end > start:
        head = text[start:header_end]
        fields = split_fields(head)
        if fields is None:
            return None
        for name, value in zip(*fields):
            # The compat32 parser stores the value without the line ending after it.
            part.set_raw(name, value.rstrip("\r\n"))

    maintype = part.get_content_maintype()
    if maintype == "message":
        return None
    if maintype == "multipart":
        if not _fill(part, text, body_start, end, line_ending):
            return None
        # The line ending before the outer boundary ends the nested epilogue.
        epilogue = part.epilogue
        part.epilogue = None if epilogue == "" else _without_final_ending(epilogue, line_ending)
        return part

    part.set_payload(_without_final_ending(text[body_start:end], line_ending))
    return part


def _without_final_ending(value: str, line_ending: str) -> str:
    return value[: -len(line_ending)] if value.endswith(line_ending) else value
