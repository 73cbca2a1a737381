"""Domain names given on the command line or in an expectations file."""

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
    for label in labels:
        # RFC 1123 section 2.1 host names; underscores are allowed because SES and DMARC
        # names (_dmarc, _domainkey) are not host names but are looked up the same way.
        if label.startswith("-") or label.endswith("-"):
            raise InputError(f"{what} {text!r}: label {label!r} starts or ends with a hyphen")
    return ascii_name
