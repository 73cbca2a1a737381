"""Parse one DMARC record and validate it against the RFC 7489 section 6.4 grammar.

Why not checkdmarc at run time: `import checkdmarc.dmarc` runs the package's __init__, which
imports its BIMI, MTA-STS, SMTP and SMTP TLS reporting modules (httpx, cryptography.x509,
pyleri), and checkdmarc.utils parses the public suffix list a second time. So importing a
submodule does not help. With checkdmarc 6.0.4 on the 2-core machine of docs/benchmarks.md,
the import took 0.32 to 0.86 s of wall time (three runs), against 0.04 s for
`python -c pass`. `maildiag dns example.com` over the sample zone files took a median of
1.13 s with checkdmarc and 0.83 s without it (10 runs each, on a busy machine).
checkdmarc 6.0.4 also applies the RFC 9989 rules: it accepts a record without p, ignores
pct, and replaces an invalid adkim or aspf value with the default instead of reporting an
error. This module checks RFC 7489 in under 0.1 ms a record and imports nothing new.
tests/test_dnscheck_dmarcrecord.py compares its verdicts with checkdmarc's on sample records
and names each case where the two RFCs differ.
"""

import re
import urllib.parse
from dataclasses import dataclass, field

from diag.dnscheck.names import to_ascii_domain
from diag.errors import InputError

# RFC 7489 section 6.4: dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43 %x31.
# "v" is a case-insensitive literal (RFC 5234 section 2.3) and "DMARC1" is matched exactly.
_VERSION = re.compile(r"^[vV][ \t]*=[ \t]*DMARC1[ \t]*(?:;|$)")
# RFC 7489 section 6.4: dmarc-sep = *WSP %x3b *WSP
_SEPARATOR = re.compile(r"[ \t]*;[ \t]*")
POLICIES = ("none", "quarantine", "reject")
POLICY_RANK = {"none": 0, "quarantine": 1, "reject": 2}

# The tags of the IANA "DMARC Tag Registry": those of RFC 7489 section 6.3, and np from
# RFC 9091. Receivers ignore any other tag (RFC 7489 section 6.3).
KNOWN_TAGS = ("v", "p", "sp", "np", "rua", "ruf", "adkim", "aspf", "ri", "fo", "rf", "pct")
# RFC 7489 section 6.4: fo = ( "0" / "1" / "d" / "s" ) *(*WSP ":" *WSP ( "0" / "1" / "d" / "s" ))
_FAILURE_OPTIONS = re.compile(r"^[01ds](?:[ \t]*:[ \t]*[01ds])*$", re.IGNORECASE)
# RFC 7489 section 6.3, rf: "afrf" is the only registered failure report format.
REPORT_FORMATS = ("afrf",)
# RFC 7489 section 6.3: ri is a 32-bit unsigned integer.
MAX_REPORT_INTERVAL = 2**32 - 1
# RFC 7489 section 6.4: dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ], the
# number fits an unsigned 64-bit integer, and "," and "!" inside the URI are percent-encoded.
_SIZE_LIMIT = re.compile(r"^(?P<number>[0-9]+)(?P<unit>[kmgt]?)$", re.IGNORECASE)
MAX_SIZE_LIMIT = 2**64 - 1
# RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), and section 2:
# a URI consists of unreserved and reserved characters and percent-encoded octets only.
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$")


def is_dmarc_record(text: str) -> bool:
    return bool(_VERSION.match(text))


def dmarc_records(records) -> list[str]:
    return [record for record in records if is_dmarc_record(record)]


def split_tags(record: str) -> tuple[dict, list[str]]:
    """Split a record into lower-case tag names and values; return (tags, errors).

    No space after a semicolon and no final semicolon are both valid (RFC 7489 section 6.4).
    """
    tags, errors = {}, []
    for part in _SEPARATOR.split(record.strip()):
        if not part:
            continue
        name, equals, value = part.partition("=")
        name = name.strip().lower()
        if not equals or not name:
            errors.append(f"{part!r} is not a tag=value pair (RFC 7489 section 6.4)")
            continue
        if name in tags:
            errors.append(f"tag {name} appears more than once")
            continue
        tags[name] = value.strip()
    return tags, errors


@dataclass
class ReportURI:
    """One rua or ruf destination: the URI as written, its scheme and, for mailto, the address."""

    uri: str
    scheme: str
    address: str | None = None
    host: str | None = None
    size_limit: str | None = None


@dataclass
class ParsedRecord:
    """A DMARC record split into tags, with every RFC 7489 error and warning found in it.

    `tags` maps lower-case names to the values as written, in record order. `valid` contains
    the names whose value is valid. A tag with an invalid value has an entry in `errors`.
    """

    record: str
    tags: dict[str, str] = field(default_factory=dict)
    valid: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rua: list[ReportURI] = field(default_factory=list)
    ruf: list[ReportURI] = field(default_factory=list)

    @property
    def policy(self) -> str | None:
        return self.tags["p"].lower() if "p" in self.valid else None

    @property
    def subdomain_policy(self) -> str | None:
        """sp, or p when sp is absent (RFC 7489 section 6.3)."""
        return self.tags["sp"].lower() if "sp" in self.valid else self.policy

    @property
    def percent(self) -> int:
        return int(self.tags["pct"]) if "pct" in self.valid else 100


def parse_uri(text: str) -> ReportURI:
    """Parse one dmarc-uri. Raises ValueError with the reason when it is invalid."""
    uri, _, size = text.partition("!")
    if "!" in size:
        raise ValueError(f"{text!r} has more than one '!'; encode a '!' inside the URI as %21 (RFC 7489 section 6.4)")
    if size:
        match = _SIZE_LIMIT.match(size)
        if not match or int(match.group("number")) > MAX_SIZE_LIMIT:
            raise ValueError(f"{text!r} has an invalid size limit {size!r}; use digits with an optional k, m, g or t, such as !10m (RFC 7489 section 6.4)")

    match = _URI.match(uri)
    if not match:
        raise ValueError(f"{uri!r} is not a URI; write it as mailto:reports@example.com (RFC 3986)")
    parsed = ReportURI(uri=text, scheme=match.group("scheme").lower(), size_limit=size or None)
    if parsed.scheme != "mailto":
        return parsed

    # RFC 6068: mailto:addr-spec, with reserved characters percent-encoded.
    address = urllib.parse.unquote(uri[len("mailto:"):].split("?", 1)[0])
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise ValueError(f"{uri!r} has no mailbox address; write it as mailto:reports@{domain or 'example.com'}")
    try:
        parsed.host = to_ascii_domain(domain, f"the domain of {uri}")
    except InputError as error:
        raise ValueError(str(error)) from None
    parsed.address = f"{local}@{parsed.host}"
    return parsed


def _check_uris(parsed: ParsedRecord, name: str, value: str) -> None:
    # RFC 7489 section 6.4: dmarc-uri *(*WSP "," *WSP dmarc-uri)
    uris, errors = [], []
    for text in value.split(","):
        try:
            uris.append(parse_uri(text.strip(" \t")))
        except ValueError as error:
            errors.append(f"{name}: {error}")
    # The valid URIs are kept even when another is invalid, so their destinations are checked.
    setattr(parsed, name, uris)
    parsed.errors += errors
    if not errors:
        parsed.valid.add(name)
    for uri in uris:
        if uri.scheme != "mailto":
            # RFC 7489 section 6.2: receivers are only required to support mailto.
            parsed.warnings.append(f"{name}: receivers need not support the {uri.scheme} scheme of {uri.uri}; use a mailto: URI")


def _check_value(parsed: ParsedRecord, name: str, value: str) -> str | None:
    """Return the error in the value of tag `name`, or None when the value is valid."""
    lowered = value.lower()
    if name in ("p", "sp", "np"):
        if lowered not in POLICIES:
            source = "RFC 9091" if name == "np" else "RFC 7489 section 6.3"
            return f"{name}={value!r} is invalid; use none, quarantine or reject ({source})"
    elif name in ("adkim", "aspf"):
        if lowered not in ("r", "s"):
            return f"{name}={value!r} is invalid; use r (relaxed) or s (strict) (RFC 7489 section 6.3)"
    elif name == "fo":
        if not _FAILURE_OPTIONS.match(value):
            return f"fo={value!r} is invalid; use 0, 1, d or s, separated by colons (RFC 7489 section 6.3)"
    elif name == "rf":
        formats = [item.strip(" \t").lower() for item in value.split(":")]
        if not all(item in REPORT_FORMATS for item in formats):
            return f"rf={value!r} is invalid; afrf is the only registered failure report format (RFC 7489 section 6.3)"
    elif name == "ri":
        if not value.isdigit() or not value.isascii() or int(value) > MAX_REPORT_INTERVAL:
            return f"ri={value!r} is not a number of seconds from 0 to {MAX_REPORT_INTERVAL} (RFC 7489 section 6.3)"
    elif name == "pct":
        if not (value.isdigit() and value.isascii() and len(value) <= 3 and int(value) <= 100):
            return f"pct={value!r} is not an integer from 0 to 100 (RFC 7489 section 6.3)"
    return None


def parse_record(record: str) -> ParsedRecord:
    """Split `record` into tags and check each value; errors and warnings are stored, never raised."""
    tags, errors = split_tags(record)
    parsed = ParsedRecord(record=record, tags=tags, errors=errors)

    for name, value in tags.items():
        if name == "v":
            parsed.valid.add(name)
        elif name in ("rua", "ruf"):
            _check_uris(parsed, name, value)
        elif name not in KNOWN_TAGS:
            parsed.warnings.append(f"tag {name} is not in the DMARC tag registry; receivers ignore it (RFC 7489 section 6.3)")
        else:
            error = _check_value(parsed, name, value)
            if error:
                parsed.errors.append(error)
            else:
                parsed.valid.add(name)

    names = list(tags)
    if "p" not in tags:
        parsed.errors.append("the p tag is missing; add p=none, p=quarantine or p=reject after v=DMARC1 (RFC 7489 section 6.3)")
    elif names.index("p") != 1:
        # The section 6.4 ABNF puts p directly after v; receivers commonly accept any order.
        parsed.warnings.append("p is not the second tag; RFC 7489 section 6.4 places it directly after v=DMARC1")
    return parsed
