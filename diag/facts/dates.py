"""Parse the dates that MTAs write into Received fields, including the non-standard ones.

`email.utils.parsedate_tz` reads RFC 5322 section 3.3 dates and the obsolete zone names of
section 4.3, but real Received fields also carry forms it rejects or misreads:

- fractional seconds (`08:48:36.716`): it returns None;
- month names in other languages (`Dez`, `déc.`): it returns None;
- a missing zone or `-0000`: the public function reports offset 0 for both, so a caller
  cannot tell "UTC" from "unknown local time";
- a space inside the offset (`- 0600`): it silently reads offset 0;
- two-digit years 50 to 68: it adds 2000, where RFC 5322 section 4.3 adds 1900;
- ISO 8601 dates (`2018-09-28 08:48:36.858842501 +0000 UTC`, written by Go programs).

So this module finds the date with its own regex and builds the datetime from the
groups it matched, with the month, year and zone rules of parsedate_tz (Python 3.11)
applied to the RFC 5322 form of the date. The module used to write that form out and
call parsedate_tz on it, which gave the same values in three times the time.
"""

import re
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

# day month year hh:mm[:ss[.frac]] [zone]. The weekday is not captured because senders
# write it in any language and the day number already fixes the date.
_RFC_DATE = re.compile(
    r"(?<!\d)(?P<day>\d{1,2})\s+(?P<month>[^\W\d_]{3,9})\.?,?\s+(?P<year>\d{2,4})"
    r"\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"(?:\s*(?P<sign>[+-])\s?(?P<zone_hours>\d{2}):?(?P<zone_minutes>\d{2})(?!\d)"
    r"|\s+(?P<zone_name>[A-Za-z]{1,5})\b)?"
)

_ISO_DATE = re.compile(
    r"(?<!\d)(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[T ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r":(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?"
    r"(?:\s*(?P<utc>Z)\b|\s*(?P<sign>[+-])(?P<zone_hours>\d{2}):?(?P<zone_minutes>\d{2})(?!\d)"
    r"|\s+(?P<zone_name>UTC|GMT)\b)?"
)

# The form nearly every MTA writes: "[Tue, ]3 Dec 2024 10:15:07 +0100" (RFC 5322 section
# 3.3 with an English weekday and month, a four-digit year, seconds and a numeric zone
# below 24 hours). It is matched at the start of the text. The text before the day contains
# no digit, so _RFC_DATE finds its first match at the same day number and reads the same
# fields. The fast path writes the ISO 8601 form from the matched text and lets
# datetime.fromisoformat build the value in C, about three times faster than the general path.
_COMMON_DATE = re.compile(
    r" *(?:[A-Z][a-z]{2}, )?(\d{1,2}) ([A-Z][a-z]{2}) ([12]\d{3}) (\d{2}:\d{2}:\d{2})"
    r" ([+-])([01]\d|2[0-3])([0-5]\d)(?!\d)"
)

_ENGLISH_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_COMMON_MONTHS = {name.title(): f"{index:02d}" for index, name in enumerate(_ENGLISH_MONTHS, start=1)}

# Abbreviations seen in Received fields written by MTAs running in a non-English locale
# (German, French, Spanish, Italian, Portuguese, Dutch, Scandinavian), keyed without the
# trailing dot. "jui" is left out because it starts both juin and juillet.
_MONTHS = {name: index for index, name in enumerate(_ENGLISH_MONTHS, start=1)}
_MONTHS.update({
    "jän": 1, "janv": 1, "ene": 1, "gen": 1,
    "fév": 2, "févr": 2, "fev": 2, "fevr": 2,
    "mär": 3, "mrz": 3, "mrt": 3, "mars": 3,
    "avr": 4, "abr": 4,
    "mai": 5, "mag": 5, "mei": 5, "maj": 5,
    "juin": 6, "giu": 6,
    "juil": 7, "lug": 7,
    "aoû": 8, "août": 8, "aou": 8, "aout": 8, "ago": 8,
    "sept": 9, "set": 9,
    "okt": 10, "ott": 10, "out": 10,
    "déc": 12, "dez": 12, "dic": 12, "des": 12,
})

# Zone names and their offsets from UTC as +HHMM numbers. The first fourteen, up to PDT,
# are what parsedate_tz reads: UT, GMT, Z and the North American zones of RFC 5322
# section 4.3, plus UTC, AST and ADT. The unambiguous names after them also appear in real fields.
# Ambiguous ones (IST, BST) are not guessed.
_ZONE_NAMES = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "AST": -400, "ADT": -300, "EST": -500, "EDT": -400,
    "CST": -600, "CDT": -500, "MST": -700, "MDT": -600, "PST": -800, "PDT": -700,
    "WET": 0, "WEST": 100, "CET": 100, "CEST": 200, "MET": 100, "MEST": 200,
    "EET": 200, "EEST": 300, "MSK": 300, "HKT": 800, "SGT": 800, "JST": 900, "KST": 900,
    "AEST": 1000, "AEDT": 1100, "NZST": 1200, "NZDT": 1300,
}

_TIMEZONES: dict[int, timezone] = {}


class ReceivedDate(NamedTuple):
    """A parsed date and whether its zone was stated.

    When `zone_known` is False the date was read as UTC, so comparing it with another
    hop's date may be off by the sender's UTC offset.
    """

    value: datetime
    zone_known: bool
    # `value` in ISO 8601 form, as datetime.isoformat writes it.
    iso: str


def _timezone(offset_seconds: int) -> timezone:
    zone = _TIMEZONES.get(offset_seconds)
    if zone is None:
        zone = _TIMEZONES[offset_seconds] = timezone(timedelta(seconds=offset_seconds))
    return zone


def _month_number(name: str) -> int | None:
    name = name.lower()
    return _MONTHS.get(name) or _MONTHS.get(name[:4]) or _MONTHS.get(name[:3])


def _rfc_year(text: str) -> int:
    """Expand a two- or three-digit year following RFC 5322 section 4.3."""
    year = int(text)
    if len(text) == 2 and year < 50:
        return year + 2000
    if len(text) <= 3:
        return year + 1900
    # A four-digit year below 100 ("0049") gets parsedate_tz's POSIX rule: 69-99 are 19xx
    # and 0-68 are 20xx.
    if year < 100:
        return year + (1900 if year > 68 else 2000)
    return year


def _zone(match: re.Match) -> tuple[int, bool]:
    """Return the zone's offset from UTC in seconds, and whether the date stated a zone."""
    if match["sign"]:
        # RFC 5322 section 3.3: -0000 is UTC from a host that does not state its local zone.
        # Minutes above 59 ("+0075") are added as parsedate_tz adds them.
        offset = int(match["zone_hours"]) * 3600 + int(match["zone_minutes"]) * 60
        return (-offset if match["sign"] == "-" else offset), True

    hours_minutes = _ZONE_NAMES.get((match["zone_name"] or "").upper())
    if hours_minutes is not None:
        hours, minutes = divmod(abs(hours_minutes), 100)
        offset = hours * 3600 + minutes * 60
        return (-offset if hours_minutes < 0 else offset), True

    # No zone, or a word that is no zone: read the time as UTC and mark the zone unknown.
    # RFC 5322 section 4.3 calls the military letters other than Z unreliable, so they land here.
    return 0, False


def _microseconds(fraction: str | None) -> int:
    if not fraction:
        return 0
    return int(fraction[:6].ljust(6, "0"))


def _build(fields: tuple, microseconds: int, zone_known: bool) -> ReceivedDate | None:
    year, month, day, hour, minute, second = fields[:6]
    offset = fields[9] or 0

    # RFC 5322 allows a leap second (60), which datetime rejects, so the time moves back one second.
    second = min(second, 59)
    try:
        value = datetime(year, month, day, hour, minute, second, microseconds, tzinfo=_timezone(offset))
    except ValueError:
        return None
    return ReceivedDate(value, zone_known, value.isoformat())


def _parse_rfc(match: re.Match) -> ReceivedDate | None:
    month = _month_number(match["month"])
    if month is None:
        return None

    offset, zone_known = _zone(match)
    fields = (
        _rfc_year(match["year"]), month, int(match["day"]),
        int(match["hour"]), int(match["minute"]), int(match["second"] or 0), 0, 1, -1, offset,
    )
    return _build(fields, _microseconds(match["fraction"]), zone_known)


def _parse_iso(match: re.Match) -> ReceivedDate | None:
    if match["sign"]:
        offset = int(match["zone_hours"]) * 3600 + int(match["zone_minutes"]) * 60
        offset = -offset if match["sign"] == "-" else offset
        zone_known = True
    else:
        offset = 0
        zone_known = bool(match["utc"] or match["zone_name"])

    fields = (
        int(match["year"]), int(match["month"]), int(match["day"]),
        int(match["hour"]), int(match["minute"]), int(match["second"]), 0, 1, -1, offset,
    )
    return _build(fields, _microseconds(match["fraction"]), zone_known)


def _parse_common(match: re.Match) -> ReceivedDate | None:
    """Read a date that _COMMON_DATE matched, or return None to leave it to _parse_rfc.

    fromisoformat rejects what datetime() would reject (31 Feb, hour 24) and also a leap
    second, and _parse_rfc then parses those.
    """
    iso = _common_iso(*match.groups())
    if iso is None:
        return None
    try:
        value = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return ReceivedDate(value, True, iso)


def _common_iso(
    day: str, month_name: str, year: str, time_of_day: str, sign: str, zone_hours: str, zone_minutes: str
) -> str | None:
    """Write the groups of a _COMMON_DATE match in ISO 8601 form, or return None for another month name."""
    month = _COMMON_MONTHS.get(month_name)
    if month is None:
        return None

    # isoformat writes a zero offset as "+00:00", so "-0000" does too.
    if sign == "-" and zone_hours == "00" and zone_minutes == "00":
        sign = "+"
    return f"{year}-{month}-{day if len(day) == 2 else '0' + day}T{time_of_day}{sign}{zone_hours}:{zone_minutes}"


def common_date_fields(
    day: str, month_name: str, year: str, time_of_day: str, sign: str, zone_hours: str, zone_minutes: str
) -> tuple[str, float] | None:
    """Return the ISO 8601 form and the POSIX timestamp of a date written as _COMMON_DATE matches.

    The arguments are the groups of _COMMON_DATE in order. Returns None where _parse_common
    does, and then find_date reads the date with the general parser. The result equals
    the `iso` and `value.timestamp()` of the ReceivedDate that find_date returns, without
    building one, for callers that need only these two.
    """
    iso = _common_iso(day, month_name, year, time_of_day, sign, zone_hours, zone_minutes)
    if iso is None:
        return None
    try:
        return iso, datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def find_date(text: str) -> tuple[ReceivedDate | None, int]:
    """Find and parse the first date in `text`.

    Returns the date (None when no readable date is found) and the index where the date
    starts, or -1 when none was found.
    """
    match = _COMMON_DATE.match(text)
    if match is not None:
        parsed = _parse_common(match)
        if parsed is not None:
            return parsed, match.start(1)

    match = _RFC_DATE.search(text)
    if match is not None:
        parsed = _parse_rfc(match)
        if parsed is not None:
            return parsed, match.start()

    match = _ISO_DATE.search(text)
    if match is not None:
        return _parse_iso(match), match.start()
    return None, -1


def parse_date(text: str) -> ReceivedDate | None:
    """Parse one date written in RFC 5322 form or one of the variants listed above."""
    return find_date(text)[0]
