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

from diag.facts.dates import ReceivedDate, find_date
from diag.messages.model import Header

log = logging.getLogger(__name__)

# A hop whose clock is this far behind its predecessor is reported as slow.
SLOW_HOP_SECONDS = 300

# A comment with up to three levels of nesting (RFC 5322 section 3.2.2 lets comments nest
# and quote characters). Postfix nests two levels: "(using TLSv1.3 ... (256/256 bits))".
# The quantifiers are possessive (Python 3.11): the three alternatives start with
# different characters, so backtracking never finds another match, and without it the
# split runs about six times faster.
_COMMENT = re.compile(r"(\((?:[^()\\]++|\\.|\((?:[^()\\]++|\\.|\((?:[^()\\]++|\\.)*+\))*+\))*+\))")
_MARKER = re.compile("\x00(\\d+)\x00")

# A clause keyword is a whole word followed by whitespace, so "pod-id" and "HELO" do not match.
_KEYWORDS = frozenset({"from", "by", "via", "with", "id", "for"})
# Every ASCII spelling of the keywords in upper and lower case ("From", "BY", ...), so that
# a word is checked with one set lookup.
_KEYWORD_FORMS = frozenset(
    "".join(letter.upper() if bit == "1" else letter for letter, bit in zip(word, format(mask, f"0{len(word)}b")))
    for word in _KEYWORDS
    for mask in range(2 ** len(word))
)
# Case-insensitive matching also accepts a few non-ASCII letters ("ıd" with a dotless i),
# so a non-ASCII word is checked with the regular expression.
_KEYWORD = re.compile(r"(?:from|by|via|with|id|for)", re.IGNORECASE)

# RFC 3848 and RFC 6531 protocol names whose "S" marks a STARTTLS session:
# ESMTPS, ESMTPSA, LMTPS, UTF8SMTPS, UTF8SMTPSA. Google writes SMTPS for its internal
# transport and Yahoo writes SMTPs.
_TLS_PROTOCOL = re.compile(r"(?:UTF8)?(?:E?SMTP|LMTP)SA?|HTTPS", re.IGNORECASE)
_PLAIN_PROTOCOL = re.compile(r"(?:UTF8)?E?SMTPA?|MICROSOFT SMTP SERVER.*", re.IGNORECASE)

# TLS named in a comment or a protocol suffix: Postfix "(using TLSv1.3 with cipher ...)",
# Google and Microsoft "version=TLS1_3", Exim "(TLS1.2:ECDHE...)", Haraka and ecelerity
# "(cipher=...)", Cisco "ESMTP/TLS/...", Mimecast "with STARTTLS", Google "(Google Transport
# Security)", Microsoft "(TLS)".
# The text is lower-cased first: an IGNORECASE pattern with this many branches costs
# several times more per field. Every branch starts with a literal character, so the
# regex engine skips ahead to those characters: the word boundary of "\btls" is written
# as the lookbehind "t(?<!\wt)ls", which made the search about ten times faster.
_TLS_EVIDENCE = re.compile(
    r"using\s+tls|version=\s*tls|t(?<!\wt)ls\s*v?1[._]\d|c(?<!\wc)ipher=|/tls\b|s(?<!\ws)tarttls\b"
    r"|google transport security|\(tls\)"
)

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
    hops = [parse_received(header) for header in headers if len(header.name) == 8 and header.name.lower() == "received"]

    _add_delays(hops)

    delays = [hop["delay_seconds"] for hop in hops if hop["delay_seconds"] is not None]
    result: dict = {
        "hops": hops,
        "slow_hops": [_summary(index, hop) for index, hop in enumerate(hops) if (hop["delay_seconds"] or 0) > SLOW_HOP_SECONDS],
        "negative_hops": [_summary(index, hop) for index, hop in enumerate(hops) if (hop["delay_seconds"] or 0) < 0],
        "plain_hops": [_summary(index, hop) for index, hop in enumerate(hops) if _is_plain(hop)],
    }
    if delays:
        result["max_delay_seconds"] = max(delays)
    return result


def parse_received(header: Header) -> dict:
    """Parse one Received field into its clauses, date and TLS state."""
    # Folding whitespace carries no meaning (RFC 5322 section 3.2.2), so runs of it are
    # collapsed to one space for the evidence shown in reports.
    raw = " ".join(header.value.split())
    structural, comments = _strip_comments(raw)

    date, clause_text = _split_date(structural)
    clauses = _clauses(clause_text, comments)

    from_host, from_comments = clauses.get("from", (None, []))
    by_host = clauses.get("by", (None, []))[0]
    protocol = clauses.get("with", (None, []))[0]

    from_ip, from_rdns = _connecting_host(from_host, from_comments)

    return {
        "position": header.position,
        "from": _hostname(from_host),
        "from_ip": from_ip,
        "from_rdns": from_rdns,
        "by": _hostname(by_host),
        "with": protocol,
        "id": _first_word(clauses.get("id", (None, []))[0]),
        "for": _path(clauses.get("for", (None, []))[0]),
        "date": date.value.isoformat() if date else None,
        "timestamp": date.value.timestamp() if date else None,
        "zone_known": date.zone_known if date else None,
        "tls": _tls(protocol, raw),
        "delay_seconds": None,
        "raw": raw,
    }


def _strip_comments(text: str) -> tuple[str, list[str]]:
    """Replace each top-level comment by a marker token and return the comments by number.

    A comment nested deeper than _COMMENT reads, or an unbalanced "(" in a truncated
    paste, stays in the text as plain words.
    """
    # NUL may not occur in a header field (RFC 5322 section 2.2), and here it marks comments,
    # so a stray one past the reader's binary check becomes a space.
    if "\x00" in text:
        text = text.replace("\x00", " ")
    if "(" not in text:
        return text, []

    # With one capturing group, re.split returns text and comments alternately in one pass.
    pieces = _COMMENT.split(text)
    comments = pieces[1::2]
    parts = [pieces[0]]
    for number, comment in enumerate(comments):
        parts.append(f" \x00{number}\x00 ")
        parts.append(pieces[2 * number + 2])
    return "".join(parts), [comment[1:-1] for comment in comments]


def _split_date(structural: str) -> tuple[ReceivedDate | None, str]:
    """Return the date and the clause text before it.

    RFC 5321 puts the date after the last ";". Without a ";", or when the text after it
    is no date, the first date-shaped text is taken and the clauses end where it starts.
    """
    clause_text, separator, tail = structural.rpartition(";")
    if separator:
        date, _start = find_date(_MARKER.sub(" ", tail) if "\x00" in tail else tail)
        if date is not None:
            return date, clause_text

    date, start = find_date(structural)
    if date is not None:
        return date, structural[:start]
    return None, clause_text if separator else structural


def _clauses(text: str, comments: list[str]) -> dict[str, tuple[str | None, list[str]]]:
    """Split clause text at the RFC 5321 keywords.

    Each keyword maps to its value (the words up to the next keyword) and the comments
    written inside the clause. A repeated keyword (Mimecast writes "with ESMTP with
    STARTTLS") keeps the first value.
    """
    # The text is split into words once: a keyword is a whole word that whitespace follows,
    # so the last word counts only when the text ends in whitespace.
    tokens = text.split()
    final = tokens.pop() if tokens and not text[-1:].isspace() else None
    clauses: dict[str, tuple[str | None, list[str]]] = {}

    keyword = None
    words: list[str] = []
    clause_comments: list[str] = []
    for token in tokens:
        if token in _KEYWORD_FORMS or (len(token) <= 4 and not token.isascii() and _KEYWORD.fullmatch(token)):
            if keyword is not None and keyword not in clauses:
                clauses[keyword] = (" ".join(words) or None, clause_comments)
            keyword = token.lower()
            words = []
            clause_comments = []
        elif keyword is not None:
            _add_token(token, words, clause_comments, comments)
    if keyword is not None and keyword not in clauses:
        if final is not None:
            _add_token(final, words, clause_comments, comments)
        clauses[keyword] = (" ".join(words) or None, clause_comments)
    return clauses


def _add_token(token: str, words: list[str], clause_comments: list[str], comments: list[str]) -> None:
    # Markers are whole tokens that start with NUL, see _strip_comments.
    if token[0] == "\x00":
        clause_comments.append(comments[int(token[1:-1])])
    else:
        words.append(token)


def _first_word(value: str | None) -> str | None:
    if not value:
        return None
    return value.split()[0].rstrip(";") or None


def _hostname(value: str | None) -> str | None:
    word = _first_word(value)
    if word is None:
        return None
    return word.rstrip(".").lower() or None


def _path(value: str | None) -> str | None:
    """Return the address of a `for` clause without angle brackets."""
    word = _first_word(value)
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


def _connecting_host(from_host: str | None, from_comments: list[str]) -> tuple[str | None, str | None]:
    """Return the IP address the receiving host saw and its reverse DNS name, if written.

    Postfix and Sendmail write "(rdns [ip])" with "unknown" when no name was found,
    Microsoft "(ip)", and Exim and Sendmail put a bare "[ip]" as the name when the
    client had no usable HELO.
    """
    for comment in from_comments:
        for match in _BRACKET_IP.finditer(comment):
            address = _ip_text(match.group(1))
            if address is not None:
                return address, _rdns_name(comment[:match.start()])
        address = _ip_text(comment.strip())
        if address is not None:
            return address, None

    word = _first_word(from_host)
    if word is not None:
        address = _ip_text(word)
        if address is not None:
            return address, None
    return None, None


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
    lowered = raw.lower()
    if ("tls" in lowered or "cipher" in lowered or "transport security" in lowered) and _TLS_EVIDENCE.search(lowered):
        return True
    if protocol is None:
        return None

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

    address = _ip(hop["from_ip"]) if hop["from_ip"] else None
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
