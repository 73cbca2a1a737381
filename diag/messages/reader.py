"""Read one message or pasted header block into a ParsedMessage.

A clean message (every line a field or an indented continuation, one kind of line ending)
is read by one regular expression over the decoded header block. Anything else goes to
diag.messages.repair, which reads line by line and records each repair. The body, when
there is one, is parsed with the stdlib parser (compat32 policy) for MIME walking.

A message file (a source whose name ends in .eml) and a paste (standard input, .txt and any
other name) differ in two ways:
- A header block, a blank line and nothing more is a message with an empty body in a
  message file. DKIM signs the empty body too (RFC 6376 sections 3.4.3 and 3.4.4 define its
  canonical form), so the signatures can be checked. In a paste it is a header block only,
  because a copy from a header view often ends in blank lines and its body was not copied. A message file without the blank line is a header block only as well,
  because nothing shows that the header block is complete.
- A "Word: text" line right after a Subject or another free-text field is read as a lost
  fold of that field only in a paste (diag.messages.repair.is_lost_fold). A message file
  holds the fields as delivered, so such a line there is a field.
"""

import email
import email.policy
import logging
import re
from dataclasses import dataclass
from itertools import count, repeat
from email.message import Message
from email.parser import BytesParser

from diag.errors import InputError
from diag.messages import names
from diag.messages.clean import split_fields
from diag.messages.mime import split_multipart
from diag.messages.model import Header, HeaderList, ParsedMessage, Repair
from diag.messages.repair import is_lost_fold, match_field, read_damaged

log = logging.getLogger(__name__)

# The blank line that ends the header block, in each line ending. A compiled literal is
# searched about twice as fast as with bytes.find, whose two-byte search slows down on
# text with a line break every 70 bytes or so (CPython 3.11, the bench templates).
_BLANK_LINE_LF = re.compile(rb"\n\n")
_BLANK_LINE_CRLF = re.compile(rb"\n\r\n")
_NONSPACE = re.compile(rb"\S")
_FIRST_LINE = re.compile(rb"[^\r\n]*")
_FIRST_NONBLANK_LINE = re.compile(rb"^[ \t]*\S", re.MULTILINE)
# A trace or authentication field at the start of a line, and how far into a body to look for one.
_TRACE_LINE = re.compile(rb"^(?:Received|Authentication-Results|ARC-Seal|DKIM-Signature|X-Forefront-Antispam-Report|X-MS-Exchange-[A-Za-z-]+)[ \t]*:", re.MULTILINE | re.IGNORECASE)
_TRACE_SCAN_BYTES = 4096

# Bytes that do not occur in text: C0 controls other than TAB, LF, FF and CR, and DEL.
_CONTROL_BYTES = bytes(range(0, 9)) + b"\x0b" + bytes(range(0x0e, 0x20)) + b"\x7f"
# Share of control bytes above which the input is treated as binary.
_MAX_CONTROL_SHARE = 0.05
# How much of the input the binary checks read: NUL bytes in the first 8 KiB, other
# control bytes in the first 2 KiB (the count costs more).
_SNIFF_BYTES = 8192
_SNIFF_CONTROL_BYTES = 2048
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_message(data: bytes, source: str = "-", index: int = 0, *, message_file: bool | None = None) -> ParsedMessage:
    """Read a message or header paste. Raises InputError when `data` is not readable as email.

    `message_file` is True when `data` is a message file rather than a paste (see the module
    docstring). None decides by the name of `source`, which is a message file when it ends
    in .eml.
    """
    where = "standard input" if source == "-" else source
    if message_file is None:
        message_file = source.lower().endswith(".eml")
    repairs: list[Repair] = []
    data = _check_bytes(data, where, repairs)

    clean = _read_clean(data, message_file)
    if clean is not None:
        headers, body = clean.headers, clean.body
        message = _mime_message(clean) if body is not None else None
    else:
        damaged = read_damaged(data, message_file)
        repairs.extend(damaged.repairs)
        headers, body = HeaderList(damaged.headers), damaged.body
        message = None
        if body is not None:
            repaired = damaged.header_bytes + damaged.line_ending.encode("ascii") + body
            message = email.message_from_bytes(repaired, policy=email.policy.compat32)

    if not any(names.is_known(header.name) for header in headers):
        raise InputError(
            f"{where}: no email header fields found (expected lines such as 'Received: ...' or "
            "'Authentication-Results: ...'); pass an .eml file or paste the full message headers"
        )

    log.debug("read %s #%d: %d fields, body %s, %d repairs", where, index, len(headers), body is not None, len(repairs))
    return ParsedMessage(headers=headers, body=body, repairs=repairs, source=source, index=index, email=message)


def _check_bytes(data: bytes, where: str, repairs: list[Repair]) -> bytes:
    """Reject empty and binary input, and convert UTF-16 text to UTF-8."""
    if not data or _NONSPACE.search(data) is None:
        raise InputError(f"{where}: the input is empty; pass an .eml file or paste the message headers")

    if data.startswith(_UTF16_BOMS):
        # Windows tools (PowerShell redirection, Notepad "Unicode") save text as UTF-16.
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(f"{where}: the input starts like UTF-16 text but does not decode; save it as UTF-8 and retry") from None
        repairs.append(Repair("utf-16", 0, "converted the input from UTF-16 to UTF-8"))
        data = text.encode("utf-8")

    if data.startswith(_OLE_MAGIC):
        raise InputError(
            f"{where}: this is an Outlook .msg file (binary); save the message as .eml, or paste its headers from File > Properties"
        )
    sample = data[:_SNIFF_CONTROL_BYTES]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if data.find(b"\x00", 0, _SNIFF_BYTES) >= 0 or controls > _MAX_CONTROL_SHARE * len(sample):
        raise InputError(f"{where}: the input is binary, not a message; pass an .eml file or the headers as text")
    return data


@dataclass
class _CleanRead:
    headers: HeaderList
    body: bytes | None
    # Each field's name as matched, the same as headers[i].name.
    field_names: list[str]
    # Each field's value as matched: folding kept, a CR may end it.
    raw_values: list[str]
    line_ending: bytes
    ascii_only: bool
    # The fields named Content-Type, top first. RFC 2045 allows one, and the stdlib reads the first.
    content_types: list[Header]


def _read_clean(data: bytes, message_file: bool) -> _CleanRead | None:
    """Read a message that needs no repair; return None as soon as any damage shows."""
    # The blank line is searched in the line ending that the first line uses. A blank line
    # or a line in the other ending inside the header block shows in the CR count below.
    first_newline = data.find(b"\n")
    crlf = first_newline > 0 and data[first_newline - 1] == 0x0D
    blank_line = (_BLANK_LINE_CRLF if crlf else _BLANK_LINE_LF).search(data)
    if blank_line is None:
        head, rest = data, b""
    else:
        head, rest = data[: blank_line.start() + 1], data[blank_line.end() :]

    # One kind of line ending: no CR, or a CR before every LF and nowhere else.
    carriage_returns = head.count(b"\r") if crlf or b"\r" in head else 0
    if carriage_returns and not carriage_returns == head.count(b"\n") == head.count(b"\r\n"):
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None

    fields = split_fields(text)
    if fields is None:
        return None
    field_names, raw_values = fields
    # Only Header() runs Python code for each field, because map, str.strip and count run in C.
    headers = HeaderList(map(Header, field_names, map(str.strip, raw_values, repeat(" \t\r\n")), count()))
    if not message_file and _has_lost_fold(headers, field_names):
        return None
    content_types = [header for header in headers if header.lowered_name == "content-type"]

    has_text = _NONSPACE.search(rest) is not None
    if has_text:
        body = rest
    else:
        body = rest if message_file and blank_line is not None else None
    if has_text and _headers_may_continue(body, bool(content_types)):
        return None
    if body is None and not headers[-1].value:
        # A header-only paste that ends after "Name:" was probably cut off.
        return None
    return _CleanRead(headers, body, field_names, raw_values, b"\r\n" if carriage_returns else b"\n", text.isascii(), content_types)


def _has_lost_fold(headers: list[Header], field_names: list[str]) -> bool:
    """Check whether a field looks like the lost fold of the free-text field above it."""
    # Nearly every real field name fails the word test, which is cached, so this first pass
    # ends the check for most messages without a Python-level loop. A name with a hyphen or
    # a digit is no word, and str.isalpha drops those before the cached call, which costs
    # about five times as much (CPython 3.11).
    if not any(map(names.is_text_word, filter(str.isalpha, field_names[1:]))):
        return False
    for previous, header in zip(headers, headers[1:]):
        if is_lost_fold(previous.name, previous.value, header.name):
            return True
    return False


def _headers_may_continue(body: bytes, has_content_type: bool) -> bool:
    """Check whether the text after the first blank line may be more header fields of a paste.

    A paste can carry a blank line inside its header block, even after Content-Type (a
    viewer that puts a blank line after each multi-line field). The repair reader makes the
    decision, so this check only has to be cheap and miss no case: a known field or an
    indented line after the blank line sends the input to the repair reader.
    """
    first_line = _FIRST_LINE.match(body, _FIRST_NONBLANK_LINE.search(body).start()).group(0)
    if first_line[:1] in (b" ", b"\t"):
        return True
    parsed = match_field(first_line.decode("utf-8", "replace"))
    if parsed is not None and names.is_known(parsed[0]):
        return True
    # Trace fields a little further down, without a Content-Type, are worth a note from the
    # repair reader even when it cannot join them (diag.messages.repair).
    return not has_content_type and _TRACE_LINE.search(body, 0, _TRACE_SCAN_BYTES) is not None


# Content-Type values that may name a multipart or message/* type. The stdlib lower-cases
# the type (email.message.Message.get_content_type), so any value without one of these
# words is another type, and the stdlib is asked only about the rest.
_MAY_BE_COMPOSITE = re.compile(r"multipart|message", re.IGNORECASE)


def _mime_message(clean: _CleanRead) -> Message:
    """Build the stdlib Message of the body, with the header fields already read attached.

    email.message_from_bytes would parse the header block a second time, which more than
    doubles the reader's cost. The result equals message_from_bytes(data, policy=compat32)
    except that header defects are not recorded.
    """
    # The compat32 bytes parser stores a value without the line ending after it and keeps
    # non-ASCII bytes as surrogate escapes, so that as_bytes() writes back the bytes read.
    # Only a CRLF block has a line ending (its CR) left at the end of a matched value.
    values = clean.raw_values
    if clean.line_ending == b"\r\n":
        values = list(map(str.rstrip, values, repeat("\r\n")))
    if not clean.ascii_only:
        values = [value.encode("utf-8").decode("ascii", "surrogateescape") for value in values]
    content_types = [values[header.position] for header in clean.content_types]
    maintype = _composite_maintype(content_types[0]) if content_types else None

    message = Message(policy=email.policy.compat32)
    _set_raw_fields(message, clean.field_names, values)
    if maintype is None:
        # For any other type, the feed parser sets the payload to the whole body decoded
        # as ASCII with surrogate escapes (see "some non-multipart type" in
        # email/feedparser.py). Doing that here skips the parser's line-by-line pass.
        message.set_payload(clean.body.decode("ascii", "surrogateescape"))
        return message

    body_line_ending = _line_ending(clean.body)
    if maintype == "multipart" and body_line_ending is not None:
        text = clean.body.decode("ascii", "surrogateescape")
        split = split_multipart(message, text, body_line_ending)
        if split is not None:
            return split
    return _parse_body(clean, values, content_types)


def _composite_maintype(content_type: str) -> str | None:
    """Return "multipart" or "message" when the stdlib reads the Content-Type value as such, else None."""
    if _MAY_BE_COMPOSITE.search(content_type) is None:
        return None
    probe = Message(policy=email.policy.compat32)
    probe.set_raw("Content-Type", content_type)
    maintype = probe.get_content_maintype()
    return maintype if maintype in ("multipart", "message") else None


def _line_ending(body: bytes) -> str | None:
    """Return the line ending that every line of `body` uses, or None when the body mixes them."""
    carriage_returns = body.count(b"\r")
    if not carriage_returns:
        return "\n"
    if carriage_returns == body.count(b"\n") == body.count(b"\r\n"):
        return "\r\n"
    return None


def _parse_body(clean: _CleanRead, values: list[str], content_types: list[str]) -> Message:
    """Parse a multipart or message/* body with the stdlib parser (compat32 policy).

    The parser needs only Content-Type to find the MIME parts, so it reads that field
    and the body, and the other fields are attached afterwards.
    """
    ending = clean.line_ending
    prefix = b"".join(b"Content-Type: " + value.encode("ascii", "surrogateescape") + ending for value in content_types)
    message = BytesParser(policy=email.policy.compat32).parsebytes(prefix + ending + clean.body)
    del message["content-type"]
    _set_raw_fields(message, clean.field_names, values)
    return message


def _set_raw_fields(message: Message, field_names: list[str], values: list[str]) -> None:
    """Append the fields to `message` as Message.set_raw does for each, in field order."""
    # Message.set_raw only appends (name, value) to the list Message._headers (CPython 3.11
    # email/message.py). Extending that list once saves a Python call per field, about 5% of
    # the reader's instructions on the bench/run.py templates (callgrind). set_raw remains
    # for a Message without that list, and test_reader compares the result with
    # email.message_from_bytes.
    fields = getattr(message, "_headers", None)
    if type(fields) is list:
        fields.extend(zip(field_names, values))
        return
    for name, value in zip(field_names, values):
        message.set_raw(name, value)
