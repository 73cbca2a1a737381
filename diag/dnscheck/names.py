"""Domain names given on the command line or in an expectations file."""

import ipaddress

import dns.exception
import dns.name

from diag.errors import InputError


def to_ascii_domain(text: str, what: str = "domain") -> str:
    """Return `text` as a lower-case A-label domain without a trailing dot.

    Internationalised names are converted with IDNA 2008 (RFC 5891), because DNS stores
    A-labels. Raises InputError naming the value when it is not a host name.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{what}: a domain name is required, such as example.com")
    cleaned = text.strip().rstrip(".")
    if _is_ip_address(cleaned):
        raise InputError(f"{what} {text!r} is an IP address, not a domain name; give the domain whose records to check, such as example.com")
    if "@" in cleaned or "/" in cleaned or " " in cleaned or ":" in cleaned:
        raise InputError(f"{what} {text!r} is not a domain name; give only the domain, such as example.com")

    try:
        name = dns.name.from_unicode(cleaned)
    except (dns.exception.DNSException, UnicodeError, ValueError) as error:
        raise InputError(f"{what} {text!r} is not a valid domain name: {error}") from None

    ascii_name = name.to_text(omit_final_dot=True).lower()
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise InputError(f"{what} {text!r} has a single label; give the full domain, such as example.com")
    if labels[-1].isdigit():
        # RFC 3696 section 2: a top-level domain is never all-numeric, so this is a mistyped
        # address rather than a name anyone can register.
        raise InputError(f"{what} {text!r} ends in the all-numeric label {labels[-1]!r}, so it is not a domain name; give the domain, such as example.com")
    for label in labels:
        # RFC 1123 section 2.1 host names; underscores are allowed because SES and DMARC
        # names (_dmarc, _domainkey) are not host names but are looked up the same way.
        if label.startswith("-") or label.endswith("-"):
            raise InputError(f"{what} {text!r}: label {label!r} starts or ends with a hyphen")
    return ascii_name


def _is_ip_address(text: str) -> bool:
    """Tell whether `text` is an IPv4 or IPv6 address, bracketed ([::1]) or not."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True
