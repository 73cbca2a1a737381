"""Date, Subject and Message-ID of a message, which identify it in the audit tables.

The Facts document does not carry these fields (identities.message_id_host is the only
part of Message-ID it keeps), so the audit reads them from the message's header block.
"""

import logging
import re
from datetime import datetime, timezone
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime

from diag.report.view import clean

log = logging.getLogger(__name__)

# Subjects are cut here for tables and CSV cells. RFC 5322 allows 998 characters a line and
# folding allows more; 200 keeps an invoice subject whole in practice and a spam one readable.
SUBJECT_MAX = 200
# The end of the header block: the first empty line (RFC 5322 section 2.1).
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_WHITESPACE = re.compile(r"\s+")


def header_fields(data: bytes) -> dict:
    """Return {date, date_raw, subject, message_id} of a message; absent keys for absent fields.

    `date` is ISO 8601 with the offset as written. A date with the zone -0000 is read as
    UTC (RFC 5322 section 3.3). `date_raw` is kept only when the Date field cannot be read.
    """
    end = _HEADER_END.search(data)
    block = data[: end.end()] if end else data
    # compat32 keeps the raw values; each field is decoded below, so one bad field cannot
    # spoil the others.
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(block)

    fields: dict = {}
    raw_date = _raw(headers, "Date")
    if raw_date:
        parsed = _parse_date(raw_date)
        if parsed is None:
            fields["date_raw"] = clean(raw_date)
        else:
            fields["date"] = parsed.isoformat()
    subject = _decoded_subject(headers)
    if subject is not None:
        fields["subject"] = subject
    message_id = _raw(headers, "Message-ID")
    if message_id:
        fields["message_id"] = clean(message_id)
    return fields


def _raw(headers, name: str) -> str | None:
    """Return the first field `name`, unfolded and stripped, or None."""
    value = headers.get(name)
    if value is None:
        return None
    return _WHITESPACE.sub(" ", str(value)).strip()


def _parse_date(text: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def _decoded_subject(headers) -> str | None:
    """Return the Subject with RFC 2047 encoded words decoded, control characters escaped, cut to SUBJECT_MAX."""
    raw = headers.get("Subject")
    if raw is None:
        return None
    try:
        text = str(make_header(decode_header(str(raw))))
    except (HeaderParseError, LookupError, UnicodeError, ValueError) as error:
        # With an unknown charset or a broken encoded word, the raw text is still shown to the reader.
        log.debug("cannot decode Subject %r: %s", raw, error)
        text = str(raw)
    return truncate(clean(_WHITESPACE.sub(" ", text).strip()), SUBJECT_MAX)


def truncate(text: str, limit: int) -> str:
    """Return `text` cut to at most `limit` characters, at a space when one is near, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 3 // 4:
        cut = cut[:space]
    return cut.rstrip() + "…"

