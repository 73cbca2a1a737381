"""The reader's output: header fields in order, the body if any, and the repairs made."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import Message

# A fold: a line break followed by whitespace (RFC 5322 section 2.2.3).
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_LINE_BREAK = re.compile(r"\r?\n")


class _computed_once:
    """A read-only property whose value is computed on first access and kept.

    functools.cached_property does the same, but in Python 3.11 it takes a lock on every
    first access, which cost more than unfolding a short field (Python 3.12 dropped the
    lock). The value is stored in the instance __dict__, and from then on Python finds it
    there without calling this descriptor.
    """

    def __init__(self, function):
        self.function = function
        self.name = function.__name__
        self.__doc__ = function.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.function(instance)
        return value


class Header:
    """One header field as it appeared, top of the message first.

    Fields must not be modified after construction: the name index of a HeaderList and the
    cached `unfolded` value are built from them. Equality, hashing and repr use the name,
    the value and the position, as a frozen dataclass of those three fields would.

    It is a plain class with __slots__ rather than a frozen dataclass because the reader
    builds about 15 of these per message and the facts modules read their attributes many
    times. In CPython 3.11, slot attributes are built about 30% faster and read two to three
    times faster than the instance dict that a frozen dataclass writes. Over the bench/run.py
    message templates, analyze_bytes ran about 3% fewer instructions (callgrind).
    """

    __slots__ = ("name", "value", "position", "lowered_name", "_unfolded")

    name: str
    # The field body with its folding kept (CRLF or LF before each continuation line).
    value: str
    # 0 for the topmost field. Receivers prepend, so a lower position is a later hop.
    position: int
    # The name in lower case, for comparing names, which are case-insensitive (RFC 5322
    # section 1.2.2). It is set once here because the facts modules compare names many times
    # per message. It is not a constructor argument, and not compared or shown in repr.
    lowered_name: str

    def __init__(self, name: str, value: str, position: int):
        self.name = name
        self.value = value
        self.position = position
        self.lowered_name = name.lower()
        # Set on the first read of `unfolded`. The cached value is kept in a slot because an
        # instance dict for it made every field slower to build (CPython 3.11).
        self._unfolded: str | None = None

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.name, self.value, self.position) == (other.name, other.value, other.position)

    def __hash__(self):
        return hash((self.name, self.value, self.position))

    def __repr__(self):
        return f"{self.__class__.__qualname__}(name={self.name!r}, value={self.value!r}, position={self.position!r})"

    @property
    def unfolded(self) -> str:
        """The value with folding removed (RFC 5322 section 2.2.3), computed once on first read."""
        unfolded = self._unfolded
        if unfolded is None:
            unfolded = self._unfolded = self._unfold()
        return unfolded

    def _unfold(self) -> str:
        """Remove the folding from the value (RFC 5322 section 2.2.3).

        Unfolding removes each line break that precedes whitespace and keeps the whitespace,
        so "a\r\n b" becomes "a b". A line break not followed by whitespace is not a fold
        and becomes a space.
        """
        value = self.value
        if "\n" not in value:
            return value.strip()

        # When every line break is followed by a space or tab, as in every field of a clean
        # message, removing the breaks unfolds it. String methods do this about three times
        # faster than the regular expressions below, which scan the text character by character.
        text = value.replace("\r\n", "\n") if "\r" in value else value
        if text.count("\n") == text.count("\n ") + text.count("\n\t"):
            return text.replace("\n", "").strip()

        unfolded = _FOLD.sub("", value)
        # Every line break in a field of a clean message is a fold, so this runs only
        # for fields that the repair reader (diag.messages.repair) put together.
        if "\n" in unfolded:
            unfolded = _LINE_BREAK.sub(" ", unfolded)
        return unfolded.strip()

    def is_named(self, name: str) -> bool:
        # Field names are ASCII (RFC 5322 section 3.6.8) and lower() keeps the length of
        # ASCII text, so names of another length cannot match. The check skips most lower() calls.
        return len(self.name) == len(name) and self.lowered_name == name.lower()


def _group_by_name(headers: Sequence[Header]) -> dict[str, list[Header]]:
    groups: dict[str, list[Header]] = {}
    for header in headers:
        group = groups.get(header.lowered_name)
        if group is None:
            groups[header.lowered_name] = [header]
        else:
            group.append(header)
    return groups


class HeaderList(list[Header]):
    """The header fields of one message, top first, with lookups by name.

    read_message returns one. The index behind the lookups is built on the first lookup
    and kept, so the list must not be changed after that. The reader does not change it.
    """

    @_computed_once
    def by_name(self) -> dict[str, list[Header]]:
        """Group the fields by lower-cased name, each group top first. Callers must not modify the result."""
        return _group_by_name(self)

    def get_all(self, name: str) -> list[Header]:
        """Return the fields named `name` in any case, top first, or an empty list."""
        return list(self.by_name.get(name.lower(), ()))

    def first(self, name: str) -> Header | None:
        """Return the topmost field named `name` (any case), or None."""
        group = self.by_name.get(name.lower())
        return group[0] if group else None


def fields_by_name(headers: Sequence[Header]) -> dict[str, list[Header]]:
    """Return the fields of `headers` grouped by lower-cased name, each group top first.

    For a HeaderList (the reader's output) the index is built once per message and shared
    by every caller, so the result must not be modified. Any other sequence, such as a
    list built in a test, is grouped anew on each call.
    """
    if isinstance(headers, HeaderList):
        return headers.by_name
    return _group_by_name(headers)


@dataclass(frozen=True)
class Repair:
    """A change made to a damaged paste so that it parses, listed in the report."""

    kind: str
    # 1-based line number in the input, or 0 when the repair concerns the whole input.
    line: int
    detail: str


@dataclass
class ParsedMessage:
    # A HeaderList when read_message built it, so that lookups by name share one index.
    headers: list[Header]
    # None when the input was a header block only.
    body: bytes | None
    repairs: list[Repair] = field(default_factory=list)
    source: str = "-"
    index: int = 0
    # The stdlib parse (compat32 policy) of the repaired bytes, for MIME walking of the body.
    # None when `body` is None.
    email: Message | None = None

    @property
    def kind(self) -> str:
        return "message" if self.body is not None else "headers"

    def get_all(self, name: str) -> list[Header]:
        return list(fields_by_name(self.headers).get(name.lower(), ()))

    def first(self, name: str) -> Header | None:
        group = fields_by_name(self.headers).get(name.lower())
        return group[0] if group else None
