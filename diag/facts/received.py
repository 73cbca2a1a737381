"""Received hops: who handed the message to whom, when, and whether the hop used TLS.

RFC 5321 section 4.4 defines the field as `from`, `by`, `via`, `with`, `id` and `for`
clauses, a `;` and a date, each clause followed by optional comments. Real MTAs bend that:
Postfix and Microsoft put the TLS details in comments, Google writes `by 2002:a05:...` with
no `from`, Sendgrid writes an ISO date without the `;`, qmail writes only a comment before
the date. The parser therefore strips comments first (keeping them for the IP address and
the TLS evidence), splits clauses on the keywords, and searches for the date.
"""

import functools
import ipaddress
import logging
import re
from collections.abc import Sequence

from diag.facts.dates import ReceivedDate, common_date_fields, find_date
from diag.messages.model import Header, fields_by_name

log = logging.getLogger(__name__)

# A hop whose clock is this far behind its predecessor is reported as slow.
SLOW_HOP_SECONDS = 300

# A comment with up to three levels of nesting (RFC 5322 section 3.2.2 lets comments nest
# and quote characters). Postfix nests two levels: "(using TLSv1.3 ... (256/256 bits))".
# The quantifiers are possessive (Python 3.11): the three alternatives start with
# different characters, so backtracking never finds another match, and without it the
# split runs about six times faster.
_COMMENT = re.compile(r"(\((?:[^()\\]++|\\.|\((?:[^()\\]++|\\.|\((?:[^()\\]++|\\.)*+\))*+\))*+\))")

# Each top-level comment is replaced by this token, a NUL between two spaces, so that
# the clause and date parsers see the field without comments. The k-th marker is the
# k-th comment.
_MARKER = " \x00 "

# A clause keyword is a whole word followed by whitespace, so "pod-id" and "HELO" do not
# match. The clause text is split with a leading space added, so a keyword at the start
# also has the space before it, and the space after it is left for the next keyword.
# IGNORECASE also accepts the non-ASCII letters that fold to "i" ("ıd" with a dotless i)
# as word separators, in the class [bfivw] too. That lookahead tests the first letter
# once before the six alternatives are tried, which makes the split about a third faster.
_KEYWORD = re.compile(r" (?=[bfivw])(from|by|via|with|id|for)(?= )", re.IGNORECASE)

# The usual layout, matched against the whole collapsed field in one pass:
#   [from WORD (comment)...] [by WORD (comment)...] [via WORDS] [with WORDS (comment)...]
#   [id WORD (comment)...] [via WORDS] [for WORD (comment)...]; [Day, ]d Mon yyyy hh:mm:ss +hhmm (comment)...
# Microsoft writes `via` after `id`, RFC 5321 before `with`. The pattern accepts only text
# that _parse_general reads the same way, and anything else fails to match:
# - a word is printable ASCII without "(", ")" or ";", and is no clause keyword in any
#   case, because the general split would start a clause there;
# - a comment has no backslash and no NUL, and nests at most three levels, as _COMMENT reads;
# - the only ";" outside comments is the one before the date, so rpartition finds it;
# - the date is the form that _COMMON_DATE in diag.facts.dates reads,
#   or the same with the zone written GMT, UT or UTC.
# The pattern is written for the speed of Python's regex engine (CPython 3.11). An optional
# clause is "(?:...|)" because an empty branch costs less than a "?" repeat. The keyword
# test spells out both cases of each letter because IGNORECASE literals cost more. The
# comment is unrolled so that a comment without nesting runs one loop. Words and comments
# are possessive, which also keeps a failed match linear in the field's length.
_USUAL_WORD = (
    r"(?!(?:[Ff](?:[Rr][Oo][Mm]|[Oo][Rr])|[Bb][Yy]|[Vv][Ii][Aa]|[Ww][Ii][Tt][Hh]|[Ii][Dd])[ ();])"
    r"[!-'*-:<-~]++"
)
_COMMENT_TEXT = r"[^()\\\x00]*+"
_USUAL_COMMENT = (
    rf"\({_COMMENT_TEXT}(?:\({_COMMENT_TEXT}(?:\({_COMMENT_TEXT}\){_COMMENT_TEXT})*+\){_COMMENT_TEXT})*+\)"
)
_USUAL_COMMENTS = rf"(?: {_USUAL_COMMENT})*+ ?"
_USUAL_VIA = rf"(?:via {_USUAL_WORD}(?: {_USUAL_WORD})*+{_USUAL_COMMENTS}|)"
# _parse_usual reads the groups by position, in this order.
_USUAL = re.compile(
    rf"(?:from (?P<from>{_USUAL_WORD})(?P<from_comments>(?: {_USUAL_COMMENT})*+) ?|)"
    rf"(?:by (?P<by>{_USUAL_WORD}){_USUAL_COMMENTS}|)"
    rf"{_USUAL_VIA}"
    rf"(?:with (?P<with>{_USUAL_WORD}(?: {_USUAL_WORD})*+){_USUAL_COMMENTS}|)"
    rf"(?:id (?P<id>{_USUAL_WORD}){_USUAL_COMMENTS}|)"
    rf"{_USUAL_VIA}"
    rf"(?:for (?P<for>{_USUAL_WORD}){_USUAL_COMMENTS}|)"
    r"; ?(?:[A-Z][a-z]{2}, |)(?P<day>\d{1,2}) (?P<month>[A-Z][a-z]{2}) (?P<year>[12]\d{3})"
    r" (?P<time>\d{2}:\d{2}:\d{2})"
    r" (?:(?P<sign>[+-])(?P<zone_hours>[01]\d|2[0-3])(?P<zone_minutes>[0-5]\d)|(?P<utc_name>GMT|UTC?))"
    rf"(?: {_USUAL_COMMENT})*+"
)

# RFC 3848 and RFC 6531 protocol names whose "S" marks a STARTTLS session:
# ESMTPS, ESMTPSA, LMTPS, UTF8SMTPS, UTF8SMTPSA. Google writes SMTPS for its internal
# transport and Yahoo writes SMTPs.
_TLS_PROTOCOL = re.compile(r"(?:UTF8)?(?:E?SMTP|LMTP)SA?|HTTPS", re.IGNORECASE)
_PLAIN_PROTOCOL = re.compile(r"(?:UTF8)?E?SMTPA?|MICROSOFT SMTP SERVER.*", re.IGNORECASE)

# TLS named in a comment or a protocol suffix: Postfix "(using TLSv1.3 with cipher ...)",
# Google and Microsoft "version=TLS1_3", Exim "(TLS1.2:ECDHE...)", Haraka and ecelerity
# "(cipher=...)", Cisco "ESMTP/TLS/...", Mimecast "with STARTTLS", Google "(Google Transport
# Security)", Microsoft "(TLS)".
# The patterns search the lower-cased field, because an IGNORECASE pattern with this many
# branches costs several times more. Six of the forms contain "tls", so their pattern
# starts with that literal and checks the text around it with lookarounds. The regex
# engine then jumps from one "tls" to the next instead of trying every branch at each
# "s", "t" and "c", and the search runs about four times faster. The field has single
# spaces (see parse_received), so "\s" matches the one space between two words.
_TLS_WORD_EVIDENCE = re.compile(
    r"tls(?:(?<=using\stls)|(?<=version=tls)|(?<=version=\stls)|(?<!\wtls)\s?v?1[._]\d"
    r"|(?<=/tls)\b|(?<=starttls)(?<!\wstarttls)\b|(?<=\(tls)\))"
)
_TLS_OTHER_EVIDENCE = re.compile(r"c(?<!\wc)ipher=|google transport security")

_BRACKET_IP = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)(?:%[^\]]*)?\]")

# RFC 1918, RFC 6598 shared space, RFC 4193 unique local. Python's is_private also
# includes the documentation ranges, which would make every sample hop "internal".
_INTERNAL_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})


def collect(headers: list[Header]) -> dict:
    """Parse every Received field, top first, and summarise delays and plaintext hops."""
    hops = [parse_received(header) for header in fields_by_name(headers).get("received", ())]

    _add_delays(hops)

    slow_hops = []
    negative_hops = []
    plain_hops = []
    for index, hop in enumerate(hops):
        delay = hop["delay_seconds"] or 0
        if delay > SLOW_HOP_SECONDS:
            slow_hops.append(_summary(index, hop))
        elif delay < 0:
            negative_hops.append(_summary(index, hop))
        if _is_plain(hop):
            plain_hops.append(_summary(index, hop))

    result: dict = {"hops": hops, "slow_hops": slow_hops, "negative_hops": negative_hops, "plain_hops": plain_hops}
    delays = [hop["delay_seconds"] for hop in hops if hop["delay_seconds"] is not None]
    if delays:
        result["max_delay_seconds"] = max(delays)
    return result


def parse_received(header: Header) -> dict:
    """Parse one Received field into its clauses, date and TLS state."""
    # Folding whitespace carries no meaning (RFC 5322 section 2.2.3), so runs of it are
    # collapsed to one space for the evidence shown in reports.
    raw = " ".join(header.value.split())

    hop = _parse_usual(raw, header.position)
    if hop is None:
        hop = _parse_general(raw, header.position)
    return hop


def _parse_usual(raw: str, position: int) -> dict | None:
    """Parse a field written in the usual clause layout, or return None to leave it to _parse_general.

    One match of _USUAL reads the clauses and the date, where the general parser makes
    several passes over the field. Every field it accepts gives the same hop as _parse_general.
    """
    match = _USUAL.fullmatch(raw)
    if match is None:
        return None

    # One groups() call costs less than looking up thirteen groups by name.
    (
        from_host, from_comments, by_host, protocol, queue_id, recipient,
        day, month, year, time_of_day, sign, zone_hours, zone_minutes, utc_name,
    ) = match.groups()
    if utc_name is not None:
        # GMT and UT are offset zero with the zone stated (RFC 5322 section 4.3), and the
        # general date parser reads UTC the same way.
        sign, zone_hours, zone_minutes = "+", "00", "00"
    date = common_date_fields(day, month, year, time_of_day, sign, zone_hours, zone_minutes)
    if date is None:
        return None

    if not from_comments:
        from_comments = ()
    elif from_comments.count(")") == 1:
        # The usual case is one comment without nesting, and then the group is " (comment)".
        from_comments = (from_comments[1:],)
    else:
        from_comments = _COMMENT.findall(from_comments)

    iso, timestamp = date
    return _hop(position, raw, from_host, from_comments, by_host, protocol, queue_id, recipient, iso, timestamp, True)


def _parse_general(raw: str, position: int) -> dict:
    """Parse any field: strip comments, find the date, split the clauses at their keywords."""
    structural, comments = _strip_comments(raw)

    date, clause_text = _split_date(structural)
    clauses, from_comments = _clauses(clause_text, comments)

    return _hop(
        position,
        raw,
        _first_word(clauses.get("from")),
        from_comments,
        _first_word(clauses.get("by")),
        _clause_value(clauses.get("with")),
        _first_word(clauses.get("id")),
        _first_word(clauses.get("for")),
        date.iso if date else None,
        date.value.timestamp() if date else None,
        date.zone_known if date else None,
    )


def _hop(
    position: int,
    raw: str,
    from_host: str | None,
    from_comments: Sequence[str],
    by_host: str | None,
    protocol: str | None,
    queue_id: str | None,
    recipient: str | None,
    iso: str | None,
    timestamp: float | None,
    zone_known: bool | None,
) -> dict:
    """Build the hop from the first word of each clause, the `with` words and the date."""
    from_ip, from_rdns = _connecting_host(from_host, from_comments)
    return {
        "position": position,
        "from": _hostname(from_host),
        "from_ip": from_ip,
        "from_rdns": from_rdns,
        "by": _hostname(by_host),
        "with": protocol,
        "id": queue_id,
        "for": _path(recipient),
        "date": iso,
        "timestamp": timestamp,
        "zone_known": zone_known,
        "tls": _tls(protocol, raw),
        "delay_seconds": None,
        "raw": raw,
    }


def _strip_comments(text: str) -> tuple[str, list[str]]:
    """Replace each top-level comment by _MARKER and return the comments in order.

    The comments keep their parentheses. A comment nested deeper than _COMMENT reads,
    or an unbalanced "(" in a truncated paste, stays in the text as plain words.
    """
    # NUL may not occur in a header field (RFC 5322 section 2.2), and here it marks comments,
    # so a stray one past the reader's binary check becomes a space.
    if "\x00" in text:
        text = text.replace("\x00", " ")
    if "(" not in text:
        return text, []

    # With one capturing group, re.split returns text and comments alternately in one pass.
    pieces = _COMMENT.split(text)
    return _MARKER.join(pieces[::2]), pieces[1::2]


def _split_date(structural: str) -> tuple[ReceivedDate | None, str]:
    """Return the date and the clause text before it.

    RFC 5321 puts the date after the last ";". Without a ";", or when the text after it
    is no date, the first date-shaped text is taken and the clauses end where it starts.
    """
    clause_text, separator, tail = structural.rpartition(";")
    if separator:
        # A comment inside the date ("3 Dec 2024 10:00:00 (UTC) +0000") is read as whitespace.
        date, _start = find_date(tail.replace("\x00", " "))
        if date is not None:
            return date, clause_text

    date, start = find_date(structural)
    if date is not None:
        return date, structural[:start]
    return None, clause_text if separator else structural


def _clauses(text: str, comments: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split clause text at the RFC 5321 keywords.

    Returns the text of each clause by keyword (comment markers included) and the comments
    inside the `from` clause, with their parentheses. A repeated keyword (Mimecast writes
    "with ESMTP with STARTTLS") keeps the first clause.
    """
    # With one capturing group, re.split returns the text before the first keyword, then
    # each keyword and its clause text.
    pieces = _KEYWORD.split(" " + text)
    clauses: dict[str, str] = {}
    from_comments: list[str] = []
    for index in range(1, len(pieces), 2):
        keyword = pieces[index].lower()
        if keyword in clauses:
            continue
        clause = clauses[keyword] = pieces[index + 1]

        if keyword == "from" and "\x00" in clause:
            # Each marker is one comment, in order, so counting the markers before the
            # clause gives the number of its first comment.
            first = "".join(pieces[:index]).count("\x00")
            from_comments = comments[first:first + clause.count("\x00")]
    return clauses, from_comments


def _clause_value(clause: str | None) -> str | None:
    """Return the words of a clause without its comment markers, or None when it has none."""
    if not clause:
        return None
    return " ".join(clause.replace("\x00", "").split()) or None


def _first_word(clause: str | None) -> str | None:
    """Return the first word of a clause without a trailing ";", or None."""
    if not clause:
        return None
    words = clause.replace("\x00", "").split(None, 1)
    if not words:
        return None
    return words[0].rstrip(";") or None


def _hostname(word: str | None) -> str | None:
    if word is None:
        return None
    return word.rstrip(".").lower() or None


def _path(word: str | None) -> str | None:
    """Return the address of a `for` clause without angle brackets."""
    if word is None:
        return None
    return word.strip("<>;") or None


@functools.lru_cache(maxsize=4096)
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip("[]")
    if text.lower().startswith("ipv6:"):
        text = text[5:]

    # Ecelerity (Momentum) writes "[192.0.2.10:4227]", an IPv4 address with its port.
    if text.count(".") == 3 and text.count(":") == 1:
        text = text.split(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _connecting_host(from_host: str | None, from_comments: Sequence[str]) -> tuple[str | None, str | None]:
    """Return the IP address the receiving host saw and its reverse DNS name, if written.

    Postfix and Sendmail write "(rdns [ip])" with "unknown" when no name was found,
    Microsoft "(ip)", and Exim and Sendmail put a bare "[ip]" as the name when the
    client had no usable HELO. The comments are passed with their parentheses.
    """
    for comment in from_comments:
        found = _comment_address(comment)
        if found is not None:
            return found

    if from_host is not None:
        address = _ip_text(from_host)
        if address is not None:
            return address, None
    return None, None


# Cached because a sending host writes the same comment, its name and address, in every
# message it relays.
@functools.lru_cache(maxsize=4096)
def _comment_address(comment: str) -> tuple[str, str | None] | None:
    """Return the address in one `from` comment and the reverse DNS name before it, or None."""
    comment = comment[1:-1]
    for match in _BRACKET_IP.finditer(comment):
        address = _ip_text(match.group(1))
        if address is not None:
            return address, _rdns_name(comment[:match.start()])
    address = _ip_text(comment.strip())
    if address is not None:
        return address, None
    return None


@functools.lru_cache(maxsize=4096)
def _ip_text(text: str) -> str | None:
    """Return the address in `text` in its normal form, as _ip reads it.

    Cached because str() of an ipaddress object costs about 1 µs.
    """
    address = _ip(text)
    return None if address is None else str(address)


def _rdns_name(text: str) -> str | None:
    words = text.split()
    if len(words) != 1 or words[0].lower() == "unknown" or "=" in words[0]:
        return None
    return words[0].rstrip(".").lower()


def _tls(protocol: str | None, raw: str) -> bool | None:
    """Tell whether the hop used TLS: True, False, or None when the field cannot show it.

    False needs an SMTP protocol name without the RFC 3848 "S" and no TLS evidence in the
    comments. LMTP, local delivery, Exchange's internal "mapi", HTTP submission and a
    missing `with` clause give None, because they do not show whether a network
    connection was encrypted.
    """
    # The protocol name is read before the comments are searched, because it is the
    # cheaper test and both lead to True.
    protocol_tls = _protocol_tls(protocol) if protocol is not None else None
    if protocol_tls:
        return True

    lowered = raw.lower()
    if "tls" in lowered and _TLS_WORD_EVIDENCE.search(lowered):
        return True
    if ("cipher=" in lowered or "google transport security" in lowered) and _TLS_OTHER_EVIDENCE.search(lowered):
        return True
    return protocol_tls


# Cached because a few protocol names make up nearly all real fields.
@functools.lru_cache(maxsize=1024)
def _protocol_tls(protocol: str) -> bool | None:
    """Read the `with` words: True for a TLS protocol name, False for plain SMTP, None for others."""
    first = protocol.split()[0]
    if _TLS_PROTOCOL.fullmatch(first):
        return True
    if _PLAIN_PROTOCOL.fullmatch(first) or _PLAIN_PROTOCOL.fullmatch(protocol):
        return False
    return None


def _is_internal(hop: dict) -> bool:
    """Tell whether a hop stays inside one host or a private network."""
    if hop["from"] is None or hop["by"] is None:
        return True
    # "from bilbo.example.org (lists.example.org [ip]) by lists.example.org": the client's
    # address resolves to the receiving host's own name.
    if hop["by"] in (hop["from"], hop["from_rdns"]) or hop["from"] in _LOCAL_NAMES or hop["from_rdns"] in _LOCAL_NAMES:
        return True

    return hop["from_ip"] is not None and _is_internal_address(hop["from_ip"])


# Cached because the ipaddress properties are computed in Python on each access, and the
# same sending addresses recur across mail.
@functools.lru_cache(maxsize=4096)
def _is_internal_address(text: str) -> bool:
    address = _ip(text)
    if address is None:
        return False
    if address.is_loopback or address.is_link_local:
        return True
    return any(address in network for network in _INTERNAL_NETWORKS if network.version == address.version)


def _is_plain(hop: dict) -> bool:
    return hop["tls"] is False and not _is_internal(hop)


def _add_delays(hops: list[dict]) -> None:
    """Set each hop's delay: its date minus the date of the hop below it (the older one).

    A hop or its predecessor without a stated zone gets no delay, because a guessed UTC
    offset would show hours of false delay.
    """
    for newer, older in zip(hops, hops[1:]):
        if newer["timestamp"] is None or older["timestamp"] is None:
            continue
        if not (newer["zone_known"] and older["zone_known"]):
            continue
        newer["delay_seconds"] = round(newer["timestamp"] - older["timestamp"], 6)


def _summary(index: int, hop: dict) -> dict:
    return {
        "index": index,
        "position": hop["position"],
        "from": hop["from"],
        "from_ip": hop["from_ip"],
        "by": hop["by"],
        "with": hop["with"],
        "delay_seconds": hop["delay_seconds"],
        "raw": hop["raw"],
    }
