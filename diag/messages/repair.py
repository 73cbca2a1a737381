"""Read a damaged header paste line by line, repairing what can be repaired without guessing.

The reader calls this only when the cheap check of a clean message fails. Every change is
recorded as a Repair so that the report can show it. A line is never dropped silently:
- a column-0 line without field syntax after a header field is joined to that field as a
  continuation line whose folding whitespace was lost (kind `continuation`);
- a line that cannot belong to any field (before the first field) is kept as a repair of
  kind `unparsed-line` whose detail is the line text;
- webmail page text above the fields (diag.messages.webmail) is skipped, and its repair
  records what it contained.

Input from a message file (an .eml) is trusted more than a paste: a "Word: text" line there
is always a field, and a blank line that ends the input starts an empty body.

Repair kinds made here: bom, line-endings, non-utf8, mbox-from-line, mbox-from-quoting,
gmail-summary, page-title, indentation, table-heading, table-rows, space-before-colon,
continuation, blank-line, double-spaced, missing-blank-line, truncated, unparsed-line, and
the note fields-in-body, which changes no byte. The reader adds utf-16.
"""

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from diag.messages import names
from diag.messages.model import Header, Repair
from diag.messages.webmail import find_page_text

log = logging.getLogger(__name__)

UTF8_BOM = b"\xef\xbb\xbf"

# RFC 5322 section 3.6.8: a field name is printable US-ASCII except the colon. Names that
# start with punctuation are not accepted, because in damaged pastes such lines are wrapped
# values ("(2603:10b6:610:60::34) by ..."). Names that start with a digit are accepted,
# because real ones such as "360nrsId" exist.
_FIELD_LINE = re.compile(r"([A-Za-z0-9][!-9;-~]*)([ \t]*):(.*)\Z", re.DOTALL)

# Microsoft Message Header Analyzer and Outlook copy headers as table rows:
# "Name<TAB>value" or "<row number><TAB>Name<TAB>value".
_TABLE_ROW = re.compile(r"(?:(\d+)\t)?([A-Za-z][A-Za-z0-9-]*)\t(.*)\Z", re.DOTALL)
_TABLE_HEADING = re.compile(
    r"(?:#\t)?(?:header(?: name)?|name|field)\t(?:header )?(?:value|contents?)\s*\Z", re.IGNORECASE
)

# An mbox separator line (RFC 4155): "From " then the envelope sender, no colon after From.
_MBOX_FROM = re.compile(r"From \S+")
_MBOX_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)

# Evidence that column-0 text after the header fields is the body.
_HTML_START = re.compile(
    r"\s*<(?:!doctype|html|head|body|div|table|p|span|meta|center|style|!--)\b", re.IGNORECASE
)
_BOUNDARY_PARAMETER = re.compile(r"""boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))""", re.IGNORECASE)
# A MIME parameter wrapped to its own line (RFC 2045 section 5.1), e.g. ` charset="utf-8"`.
_PARAMETER_CONTINUATION = re.compile(r"\s*;?\s*[A-Za-z0-9!#$%&'*+.^_`{|}~-]+\*?(?:\d+\*?)?\s*=")
# The start of a header field name cut off by the end of a paste, e.g. "X-MS-Exchange-Orga".
# Letters only, so that a wrapped GUID or host name does not match.
_NAME_FRAGMENT = re.compile(r"[A-Za-z]+(?:-[A-Za-z]*)+\Z")

# How many lines are sampled to tell a double-spaced or indented paste from a clean one.
_SAMPLE_LINES = 60
# How far the look-ahead after a blank line reads to judge whether headers continue.
_PARAGRAPH_LINES = 40


@dataclass
class _Line:
    raw: bytes
    ending: bytes
    text: str
    encoding: str


@dataclass
class _Field:
    name: str
    line: int
    # Value lines: the first without the name, the rest with their folding whitespace.
    parts: list[str]
    # The input lines as read, used unchanged in the repaired bytes unless `rewritten`.
    source_lines: list[_Line]
    rewritten: bool = False


@dataclass
class DamagedRead:
    headers: list[Header]
    # The repaired header block, ending with a line ending, for the stdlib parser.
    header_bytes: bytes
    body: bytes | None
    repairs: list[Repair]
    line_ending: str


@dataclass
class _JoinedRun:
    """Consecutive lines joined to one field as continuation lines that lost their indentation."""

    item: _Field
    first_line: int
    count: int
    # Names of lines that looked like "Name: value" but were read as text.
    text_names: list[str] = field(default_factory=list)


@dataclass
class _State:
    fields: list[_Field] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    table_rows: int = 0
    table_first_line: int = 0
    numbered_rows: bool = False
    joined: list[_JoinedRun] = field(default_factory=list)

    def seen(self, lowered_name: str) -> bool:
        return any(item.name.lower() == lowered_name for item in self.fields)


# Repair kinds that only note something and leave the message's bytes as they were.
NOTE_KINDS = frozenset({"fields-in-body"})


def match_field(text: str) -> tuple[str, str, bool] | None:
    """Return (name, value, space_before_colon) when `text` starts a header field, else None.

    A name followed by a space, a tab or the end of the line is accepted. Without that space
    ("CIP:192.0.2.1;CTRY:US") the line is more likely a wrapped value, so only a known name
    or one with a hyphen (Content-Type:text/plain) is accepted.
    """
    match = _FIELD_LINE.match(text)
    if match is None:
        return None
    name, gap, rest = match.groups()
    plausible = "-" in name or names.is_known(name)
    if gap:
        return (name, rest.lstrip(" \t"), True) if plausible else None
    if not rest or rest[0] in " \t" or plausible:
        return name, rest.lstrip(" \t"), False
    return None


def is_lost_fold(field_name: str, value: str, name: str) -> bool:
    """Tell whether a "name: ..." line right after field `field_name` continues that field.

    A paste that lost the indentation of a wrapped Subject can show "Reminder: payment due"
    at the start of a line (RFC 5322 section 2.2.3 puts the fold before any whitespace). This
    is taken as a continuation only after free text: an unstructured field, or the display
    name of From or Sender before the address has started (`value` is the field so far).
    And `name` must read as a word of text (names.is_text_word), so X- and other real
    fields stay fields.
    """
    # The word test comes first because it is cached and rules out nearly every real field name.
    if not names.is_text_word(name):
        return False
    lowered = field_name.lower()
    if lowered in names.DISPLAY_NAME_FIELDS:
        return "@" not in value and "<" not in value
    return lowered in names.UNSTRUCTURED_NAMES


class _Texts(Sequence[str]):
    """The decoded text of each line, as a sequence, for diag.messages.webmail."""

    def __init__(self, lines: list[_Line]):
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    def __getitem__(self, index: int) -> str:
        return self._lines[index].text


def _split_lines(data: bytes) -> list[_Line]:
    lines = []
    for raw in data.splitlines(keepends=True):
        content = raw.rstrip(b"\r\n")
        lines.append(_Line(raw=raw, ending=raw[len(content):], text="", encoding=""))
    return lines


def _decode(line: _Line, number: int, state: _State) -> None:
    content = line.raw[: len(line.raw) - len(line.ending)]
    try:
        line.text = content.decode("utf-8")
        line.encoding = "utf-8"
    except UnicodeDecodeError:
        # RFC 6532 allows UTF-8 in header fields. Bytes that are not UTF-8 are most often
        # Latin-1 or Windows-1252, and Latin-1 maps every byte, so this decoding cannot fail.
        line.text = content.decode("latin-1")
        line.encoding = "latin-1"
        state.repairs.append(Repair("non-utf8", number, "the line is not valid UTF-8 and was decoded as Latin-1"))


class _PasteReader:
    """One pass over the lines of a damaged paste. `read()` returns a DamagedRead."""

    def __init__(self, data: bytes, message_file: bool = False):
        self.lines = _split_lines(data)
        self.message_file = message_file
        self.state = _State()
        self.indent = 0
        self.double_spaced = False
        self.mbox = False
        # Indexes of lines whose text differs from their bytes (BOM or first-line indent removed).
        self.changed: set[int] = set()

    def read(self) -> DamagedRead:
        state = self.state
        for number, line in enumerate(self.lines, start=1):
            _decode(line, number, state)
        start = self._read_preamble()
        body_line = self._read_fields(start)
        self._finish_joined()
        self._finish_table()
        header_end = body_line if body_line is not None else len(self.lines)
        line_ending = self._check_line_endings(header_end)
        body = self._body(body_line)
        if body is None:
            self._check_truncated()
        state.repairs.sort(key=lambda repair: repair.line)
        return DamagedRead(
            headers=self._headers(line_ending),
            header_bytes=self._header_bytes(line_ending),
            body=body,
            repairs=state.repairs,
            line_ending=line_ending,
        )

    # Input-wide damage: BOM, mbox separator, table heading, indentation, double spacing.

    def _read_preamble(self) -> int:
        lines, state = self.lines, self.state
        if lines and lines[0].raw.startswith(UTF8_BOM):
            lines[0].text = lines[0].text.lstrip("\ufeff")
            self.changed.add(0)
            state.repairs.append(Repair("bom", 1, "removed the byte order mark at the start of the input"))

        start = self._first_nonblank(0)
        if start is None:
            return len(lines)
        first = lines[start].text.strip()
        if _MBOX_FROM.match(first) and match_field(first) is None:
            self.mbox = True
            state.repairs.append(Repair("mbox-from-line", start + 1, f"skipped the mbox separator line: {first}"))
            start = self._first_nonblank(start + 1)
            if start is None:
                return len(lines)
            first = lines[start].text.strip()

        page = find_page_text(_Texts(lines), start, lambda text: match_field(text.lstrip(" \t")) is not None)
        if page is not None:
            state.repairs.append(Repair(page.kind, page.start + 1, page.detail))
            start = self._first_nonblank(page.end)
            if start is None:
                return len(lines)
            first = lines[start].text.strip()

        if _TABLE_HEADING.match(first):
            state.repairs.append(Repair("table-heading", start + 1, f"skipped the table heading row: {first}"))
            start = self._first_nonblank(start + 1)
            if start is None:
                return len(lines)

        self._detect_indentation(start)
        self._detect_double_spacing(start)
        return start

    def _detect_indentation(self, start: int) -> None:
        """Detect a paste whose every line is indented, as copied from a web page."""
        first = self.lines[start].text
        indent = len(first) - len(first.lstrip(" \t"))
        if indent == 0:
            return
        indented_fields = column0_fields = 0
        for line in self.lines[start : start + _SAMPLE_LINES]:
            stripped = line.text.lstrip(" \t")
            if match_field(line.text) is not None:
                column0_fields += 1
            elif len(line.text) - len(stripped) <= indent and match_field(stripped) is not None:
                indented_fields += 1
        if indented_fields > column0_fields:
            self.indent = indent
            self.state.repairs.append(
                Repair("indentation", 0, f"removed up to {indent} leading spaces or tabs from each header line")
            )
        else:
            # Only the first line is indented: a stray space before the first field.
            self.lines[start].text = first.lstrip(" \t")
            self.changed.add(start)
            self.state.repairs.append(Repair("indentation", start + 1, "removed the leading whitespace of the first line"))

    def _detect_double_spacing(self, start: int) -> None:
        """Detect a paste with a blank line after every line, as some web mail viewers copy."""
        sample = self.lines[start : start + _SAMPLE_LINES]
        nonblank = followed_by_blank = 0
        for position, line in enumerate(sample):
            if not line.text.strip():
                continue
            nonblank += 1
            if position + 1 < len(sample) and not sample[position + 1].text.strip():
                followed_by_blank += 1
        if nonblank >= 4 and followed_by_blank >= 0.8 * nonblank:
            self.double_spaced = True
            self.state.repairs.append(Repair("double-spaced", 0, "ignored the blank line that follows every line of the paste"))

    # The header fields.

    def _text(self, index: int) -> str:
        """Return the text of line `index` with the paste's common indentation removed."""
        text = self.lines[index].text
        if self.indent:
            leading = len(text) - len(text.lstrip(" \t"))
            text = text[min(leading, self.indent) :]
        return text

    def _first_nonblank(self, index: int) -> int | None:
        while index < len(self.lines):
            if self.lines[index].text.strip():
                return index
            index += 1
        return None

    def _read_fields(self, start: int) -> int | None:
        """Read header fields from line `start`; return the index of the body's first line or None."""
        state = self.state
        index = start
        while index < len(self.lines):
            text = self._text(index)
            number = index + 1

            if not text.strip():
                following = self._first_nonblank(index + 1)
                if following is None:
                    # A message file's blank line ends the header block even when nothing
                    # follows, because the empty body is what DKIM hashed (RFC 6376 section
                    # 3.4.3). A paste that ends in blank lines is only a header block.
                    return index + 1 if self.message_file and not self.double_spaced else None
                if not self._blank_is_damage(index, following):
                    self._note_fields_in_body(following)
                    return index + 1
                index = following
                continue

            current = state.fields[-1] if state.fields else None
            if text[0] in " \t":
                if current is None:
                    state.repairs.append(Repair("unparsed-line", number, text))
                else:
                    self._append(current, text, index, rewritten=False)
                index += 1
                continue

            parsed = match_field(text)
            if parsed is not None and self._continues_text(current, parsed[0], index):
                self._join_unindented(current, text, index, text_name=parsed[0])
                index += 1
                continue
            if parsed is not None:
                self._start_field(parsed, index)
                index += 1
                continue

            row = self._match_row(text)
            if row is not None:
                self._start_row(row, index)
                index += 1
                continue

            if current is None:
                state.repairs.append(Repair("unparsed-line", number, text))
            elif self._starts_body(text, current):
                state.repairs.append(
                    Repair("missing-blank-line", number, f"the body starts here without a blank line after {current.name}")
                )
                return index
            else:
                self._join_unindented(current, text, index)
            index += 1
        return None

    def _continues_text(self, current: _Field | None, name: str, index: int) -> bool:
        """Check whether a "name: ..." line is the unindented continuation of free text (see is_lost_fold)."""
        if self.message_file or current is None or current.source_lines[-1] is not self.lines[index - 1]:
            return False
        return is_lost_fold(current.name, "".join(current.parts), name)

    def _start_field(self, parsed: tuple[str, str, bool], index: int) -> None:
        name, value, spaced = parsed
        item = _Field(name=name, line=index + 1, parts=[value.lstrip(" \t")], source_lines=[self.lines[index]])
        if spaced:
            item.rewritten = True
            self.state.repairs.append(
                Repair("space-before-colon", index + 1, f"removed the whitespace between {name} and its colon")
            )
        if self.indent or index in self.changed:
            item.rewritten = True
        self.state.fields.append(item)

    def _match_row(self, text: str) -> tuple[str | None, str, str] | None:
        match = _TABLE_ROW.match(text)
        if match is None:
            return None
        number, name, value = match.groups()
        if number is None and not names.is_known(name) and self.state.table_rows == 0:
            return None
        return number, name, value

    def _start_row(self, row: tuple[str | None, str, str], index: int) -> None:
        number, name, value = row
        state = self.state
        if state.table_rows == 0:
            state.table_first_line = index + 1
        state.table_rows += 1
        state.numbered_rows = state.numbered_rows or number is not None
        item = _Field(name=name, line=index + 1, parts=[value.strip(" \t")], source_lines=[self.lines[index]], rewritten=True)
        state.fields.append(item)

    def _append(self, current: _Field, text: str, index: int, rewritten: bool) -> None:
        current.parts.append(text)
        current.source_lines.append(self.lines[index])
        current.rewritten = current.rewritten or rewritten or bool(self.indent)

    def _join_unindented(self, current: _Field, text: str, index: int, text_name: str | None = None) -> None:
        if self._is_cut_name(current, text, index):
            self.state.repairs.append(
                Repair("truncated", index + 1, f"the input ends inside a field name; the line is not used: {text.strip()}")
            )
            return
        # RFC 5322 section 2.2.3: a continuation line starts with whitespace. A single space
        # restores the folding whitespace that the paste lost.
        self._append(current, " " + text, index, rewritten=True)
        joined = self.state.joined
        if joined and joined[-1].item is current and joined[-1].first_line + joined[-1].count == index + 1:
            joined[-1].count += 1
        else:
            joined.append(_JoinedRun(current, index + 1, 1))
        if text_name is not None:
            joined[-1].text_names.append(text_name)

    def _is_cut_name(self, current: _Field, text: str, index: int) -> bool:
        """Check for the start of a field name cut off by the end of the paste ("X-MS-Exchange-Orga").

        A value on its own line after an empty first line (a Message-Id GUID) is not a cut name.
        """
        if self._first_nonblank(index + 1) is not None:
            return False
        if not "".join(current.parts).strip():
            return False
        return _NAME_FRAGMENT.match(text.strip()) is not None

    def _starts_body(self, text: str, current: _Field) -> bool:
        """Decide whether column-0 text that is not a field begins the body."""
        content_type = next((item for item in self.state.fields if item.name.lower() == "content-type"), None)
        if content_type is None:
            return False
        if _HTML_START.match(text):
            return True
        boundary = _BOUNDARY_PARAMETER.search(" ".join(content_type.parts))
        if boundary and text.startswith("--" + (boundary.group(1) or boundary.group(2))):
            return True
        if current.name.lower() not in names.BODY_DESCRIBING_NAMES:
            return False
        # After Content-Type and its kin only a MIME parameter can continue the field.
        return _PARAMETER_CONTINUATION.match(text) is None and not current.parts[-1].rstrip().endswith(";")

    def _blank_is_damage(self, index: int, following: int) -> bool:
        """Decide whether the blank line(s) from `index` sit inside the header block of a paste.

        A real message's body can begin with "Name: value" text (a bounce quoting headers), so
        the blank line ends the header block unless the evidence says otherwise: no
        Content-Type has been read yet (a message with a body declares one), the next line is
        a trace or authentication field or a paragraph of known header fields, and it repeats
        no field that RFC 5322 allows only once.
        """
        state = self.state
        next_text = self._text(following)
        if self.double_spaced:
            if next_text[0] in " \t" or match_field(next_text) is not None or self._match_row(next_text):
                return True
            return False

        content_type = next((item for item in state.fields if item.name.lower() == "content-type"), None)
        if content_type is not None:
            # After Content-Type, header paragraphs that reach a trace field (Received,
            # Authentication-Results, X-MS-Exchange-*) are read as a damaged paste, except in
            # a message/* or text/rfc822-headers body, whose content is a header block.
            declared = " ".join(content_type.parts).strip().lower()
            if declared.startswith(("message/", "text/rfc822-headers")) or not self._headers_with_trace_follow(following):
                return False

        if next_text[0] in " \t" or self._lost_fold_after_trace(next_text):
            return self._blank_inside_fold(index, following)

        parsed = match_field(next_text)
        row = None if parsed is not None else self._match_row(next_text)
        if parsed is None and row is None:
            return False
        name = parsed[0] if parsed is not None else row[1]
        if not names.is_known(name) or not self._paragraph_is_header(following):
            return False

        return self._ignore_blank(index, following, f"inside the header block because {name} follows")

    def _note_fields_in_body(self, start: int) -> None:
        """Note trace fields that begin lines soon after the header block ended at line `start`.

        Without a Content-Type the body is plain text, and trace fields in it usually mean a
        paste whose blank lines could not be repaired. The fields stay in the body, so the
        note names them and gives the next step.
        """
        if self.state.seen("content-type"):
            return
        found = []
        for line in range(start, min(start + _PARAGRAPH_LINES, len(self.lines))):
            text = self._text(line)
            parsed = None if not text or text[0] in " \t" else match_field(text)
            if parsed is not None and names.is_trace(parsed[0]) and parsed[0] not in found:
                found.append(parsed[0])
        if found:
            detail = (
                f"the text after the blank line before line {start + 1} contains header fields ({', '.join(found)}), "
                "read as the body; if you pasted headers, remove the blank lines and run again"
            )
            self.state.repairs.append(Repair("fields-in-body", start + 1, detail))

    def _lost_fold_after_trace(self, text: str) -> bool:
        """Tell whether column-0 `text` that is no field may continue the trace field above it."""
        fields = self.state.fields
        if not fields or not names.is_trace(fields[-1].name):
            return False
        return match_field(text) is None and self._match_row(text) is None

    def _blank_inside_fold(self, index: int, following: int) -> bool:
        """Decide whether blank line(s) from `index` split a folded field whose continuation follows.

        The lines after the blank are taken as the rest of the field above only when a known
        header field follows them in the same paragraph, because a body may also begin with
        indented text. Unindented continuation lines are accepted only after a trace field.
        """
        state = self.state
        if not state.fields:
            return False
        trace_above = names.is_trace(state.fields[-1].name)
        field_line = None
        for line in range(following, min(following + _PARAGRAPH_LINES, len(self.lines))):
            text = self._text(line)
            if not text.strip():
                return False
            if text[0] in " \t":
                continue
            parsed = match_field(text)
            if parsed is not None:
                if not names.is_known(parsed[0]):
                    return False
                field_line = line
                break
            if not trace_above:
                return False
        if field_line is None or not self._paragraph_is_header(field_line):
            return False

        return self._ignore_blank(index, following, f"inside the folded {state.fields[-1].name} field")

    def _ignore_blank(self, index: int, following: int, where: str) -> bool:
        """Record that the blank lines from `index` to `following` were ignored, and return True."""
        self.state.repairs.append(Repair("blank-line", index + 1, f"ignored {following - index} blank line(s) {where}"))
        return True

    def _headers_with_trace_follow(self, start: int) -> bool:
        """Check whether header paragraphs from line `start` reach a trace field before any other text.

        Some viewers copy a blank line after every field, so the trace fields may sit a few
        one-field paragraphs further down.
        """
        paragraph = start
        for _ in range(_PARAGRAPH_LINES):
            if paragraph is None or not self._paragraph_is_header(paragraph):
                return False
            if self._paragraph_has_trace(paragraph):
                return True
            end = paragraph
            while end < len(self.lines) and self._text(end).strip():
                end += 1
            paragraph = self._first_nonblank(end)
        return False

    def _paragraph_has_trace(self, start: int) -> bool:
        """Check whether the paragraph from line `start` contains a trace or authentication field."""
        for index in range(start, min(start + _PARAGRAPH_LINES, len(self.lines))):
            text = self._text(index)
            if not text.strip():
                return False
            parsed = None if text[0] in " \t" else match_field(text)
            if parsed is not None and names.is_trace(parsed[0]):
                return True
        return False

    def _paragraph_is_header(self, start: int) -> bool:
        """Check that the lines from `start` to the next blank line could all be header lines."""
        first_name = None
        for index in range(start, min(start + _PARAGRAPH_LINES, len(self.lines))):
            text = self._text(index)
            if not text.strip():
                break
            if text[0] in " \t":
                continue
            parsed = match_field(text)
            row = None if parsed is not None else self._match_row(text)
            if parsed is None and row is None:
                # A wrapped value that lost its indentation is acceptable after a trace field,
                # and a MIME parameter (boundary=...) after Content-Type and its kin.
                if first_name is not None and names.is_trace(first_name):
                    continue
                if first_name is not None and first_name.lower() in names.BODY_DESCRIBING_NAMES and _PARAMETER_CONTINUATION.match(text):
                    continue
                return False
            name = parsed[0] if parsed is not None else row[1]
            first_name = first_name or name
            if name.lower() in names.SINGLE_NAMES and self.state.seen(name.lower()):
                return False
        return True

    # Closing checks and output.

    def _finish_joined(self) -> None:
        for run in self.state.joined:
            first_line, count = run.first_line, run.count
            lines = f"line {first_line}" if count == 1 else f"lines {first_line}-{first_line + count - 1}"
            detail = f"joined {lines} to {run.item.name} as folded continuation lines"
            if run.text_names:
                quoted = ", ".join(f'"{name}:"' for name in run.text_names)
                verb = "is not a header field name" if len(run.text_names) == 1 else "are not header field names"
                detail += f" ({quoted} {verb})"
            self.state.repairs.append(Repair("continuation", first_line, detail))

    def _finish_table(self) -> None:
        state = self.state
        if state.table_rows:
            kind = "numbered tab-separated rows" if state.numbered_rows else "tab-separated rows"
            state.repairs.append(
                Repair("table-rows", state.table_first_line, f"read {state.table_rows} {kind} as header fields")
            )

    def _check_line_endings(self, header_end: int) -> str:
        counts = {b"\r\n": 0, b"\n": 0, b"\r": 0}
        for line in self.lines[:header_end]:
            if line.ending:
                counts[line.ending] += 1
        used = [ending for ending, count in counts.items() if count]
        if len(used) > 1 or used == [b"\r"]:
            summary = ", ".join(f"{counts[ending]} {label}" for ending, label in ((b"\r\n", "CRLF"), (b"\n", "LF"), (b"\r", "CR")) if counts[ending])
            self.state.repairs.append(Repair("line-endings", 0, f"mixed or CR-only line endings in the header block ({summary})"))
        return "\r\n" if counts[b"\r\n"] > counts[b"\n"] + counts[b"\r"] else "\n"

    def _body(self, body_line: int | None) -> bytes | None:
        if body_line is None:
            return None
        body = b"".join(line.raw for line in self.lines[body_line:])
        if not body.strip() and not self.message_file:
            return None
        if self.mbox:
            # mboxrd (RFC 4155 appendix) quotes body lines that begin with "From " with ">";
            # removing one ">" restores the body as it was signed.
            body, count = _MBOX_QUOTED_FROM.subn(rb"\1", body)
            if count:
                self.state.repairs.append(
                    Repair("mbox-from-quoting", 0, f"removed the '>' quoting from {count} body line(s) beginning with From")
                )
        return body

    def _check_truncated(self) -> None:
        """Record a paste that ends right after a field name, leaving the value empty."""
        fields = self.state.fields
        if fields and len(fields[-1].parts) == 1 and not fields[-1].parts[0].strip():
            last = fields[-1]
            self.state.repairs.append(
                Repair("truncated", last.line, f"the input ends after {last.name}: with no value; the field is kept empty")
            )

    def _headers(self, line_ending: str) -> list[Header]:
        headers = []
        for position, item in enumerate(self.state.fields):
            value = line_ending.join(item.parts).strip(" \t\r\n")
            headers.append(Header(name=item.name, value=value, position=position))
        return headers

    def _header_bytes(self, line_ending: str) -> bytes:
        ending = line_ending.encode("ascii")
        chunks = []
        for item, header in zip(self.state.fields, self._headers(line_ending)):
            if item.rewritten:
                chunks.append(f"{item.name}: {header.value}".encode("utf-8") + ending)
                continue
            # Unchanged fields keep their bytes, so that a DKIM check of the repaired message
            # sees what was signed.
            for line in item.source_lines:
                chunks.append(line.raw[: len(line.raw) - len(line.ending)] + ending)
        return b"".join(chunks)


def read_damaged(data: bytes, message_file: bool = False) -> DamagedRead:
    """Read header fields and body from a damaged paste or message, recording each repair.

    `message_file` is True for a message file (an .eml) and False for a paste; see the
    module docstring for what differs.
    """
    result = _PasteReader(data, message_file).read()
    log.debug("repaired input: %s", ", ".join(repair.kind for repair in result.repairs) or "no repairs")
    return result
