"""Read a header block that needs no repair with one regular expression.

The reader uses this for the message's header block and diag.messages.mime for the header
block of each MIME part. Damaged input goes to diag.messages.repair instead.
"""

import re

# A header field of a clean block. The name (RFC 5322 section 3.6.8) starts with a letter or
# digit. The colon is followed by whitespace or the end of the line, so that a wrapped
# "22:34:58 +0000" is not read as a field. Continuation lines start with whitespace
# (section 2.2.3). "." also matches CR, and the caller checks the line endings apart,
# because excluding CR here makes the match about three times slower. The names SPF, DKIM
# and DMARC do not match, so a Gmail summary whose rows all read as fields ("SPF: PASS with
# IP ...") goes to the repair reader, which removes it (diag.messages.webmail). The
# look-ahead costs less than checking the names after the match. The quantifiers are
# possessive (*+, ++) because no match needs to give characters back, and without
# backtracking points the match was about 15% faster (CPython 3.11, the bench templates).
# Groups: the name, the value with its folding and a final CR kept.
_FIELD = re.compile(
    r"(?!(?:SPF|DKIM|DMARC):)([A-Za-z0-9][!-9;-~]*+):(?:[ \t]++|(?=\r?\n)|\Z)(.*+(?:\n[ \t].*+)*+)(?:\n|\Z)"
)


def split_fields(text: str) -> tuple[list[str], list[str]] | None:
    """Return the names and the raw values of the fields that make up all of `text`.

    A raw value keeps its folding and, in a CRLF block, the CR that ends it. Returns None
    when `text` contains no field or any text that is not part of a field.
    """
    # re.split returns the text between matches, then each match's groups, in turn:
    # [text, name, value, text, name, value, ..., text]. The block is all fields exactly
    # when every text between matches is empty. The slices and any() run in C, which
    # costs less than summing the lengths of findall's matches in Python.
    pieces = _FIELD.split(text)
    if len(pieces) == 1 or any(pieces[::3]):
        return None
    return pieces[1::3], pieces[2::3]
