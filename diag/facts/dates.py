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

So this module finds the date with its own regex, rewrites it in the RFC 5322 form
(English month, four-digit year, numeric zone) and only then calls parsedate_tz.
"""

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_tz
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

_ENGLISH_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

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

# parsedate_tz reads UT, UTC, GMT, Z and the North American zones of RFC 5322 section 4.3.
# The unambiguous names below also appear in real fields. Ambiguous ones (IST, BST) are not guessed.
_EXTRA_ZONES = {
    "WET": 0, "WEST": 100, "CET": 100, "CEST": 200, "MET": 100, "MEST": 200,
    "EET": 200, "EEST": 300, "MSK": 300, "HKT": 800, "SGT": 800, "JST": 900, "KST": 900,
    "AEST": 1000, "AEDT": 1100, "NZST": 1200, "NZDT": 1300,
}
_PARSEDATE_ZONES = {"UT", "UTC", "GMT", "Z", "AST", "ADT", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT"}

_TIMEZONES: dict[int, timezone] = {}


class ReceivedDate(NamedTuple):
    """A parsed date and whether its zone was stated.

    When `zone_known` is False the date was read as UTC, so comparing it with another
    hop's date may be off by the sender's UTC offset.
    """

    value: datetime
    zone_known: bool


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
    return year


def _zone(match: re.Match) -> tuple[str, bool]:
    """Return the zone as parsedate_tz reads it, and whether the date stated one."""
    if match["sign"]:
        zone = f"{match['sign']}{match['zone_hours']}{match['zone_minutes']}"
        # RFC 5322 section 3.3: -0000 is UTC from a host that does not state its local zone.
        return ("+0000" if zone == "-0000" else zone), True

    name = (match["zone_name"] or "").upper()
    if name in _PARSEDATE_ZONES:
        return name, True
    if name in _EXTRA_ZONES:
        return f"{_EXTRA_ZONES[name]:+05d}", True

    # No zone, or a word that is no zone: read the time as UTC and mark the zone unknown.
    # RFC 5322 section 4.3 calls the military letters other than Z unreliable, so they land here.
    return "+0000", False


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
    return ReceivedDate(value, zone_known)


def _parse_rfc(match: re.Match) -> ReceivedDate | None:
    month = _month_number(match["month"])
    if month is None:
        return None

    zone, zone_known = _zone(match)
    normalised = (
        f"{int(match['day'])} {_ENGLISH_MONTHS[month - 1]} {_rfc_year(match['year'])} "
        f"{match['hour']}:{match['minute']}:{match['second'] or '00'} {zone}"
    )
    fields = parsedate_tz(normalised)
    if fields is None:
        return None
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


def find_date(text: str) -> tuple[ReceivedDate | None, int]:
    """Find and parse the first date in `text`.

    Returns the date (None when no readable date is found) and the index where the date
    starts, or -1 when none was found.
    """
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
