"""Conversions between dnspython objects and the text fields of an Answer, shared by the backends."""

import dns.exception
import dns.name
import dns.rdatatype

from diag.errors import InputError

# The maximum number of CNAMEs followed for one question. RFC 1034 section 3.6.2 says that
# chains should be followed and loops signalled as an error, but sets no limit: 8 is ours.
MAX_CNAME_HOPS = 8


def parse_name(name: str) -> dns.name.Name:
    """Parse a domain name; a relative name is taken as absolute ("example.com" = "example.com.")."""
    try:
        return dns.name.from_text(name)
    except dns.exception.DNSException as error:
        raise InputError(f"invalid DNS name {name!r}: {error}") from None


def parse_type(rdtype: str) -> int:
    try:
        return dns.rdatatype.from_text(rdtype)
    except dns.exception.DNSException:
        raise InputError(f"unknown DNS record type {rdtype!r}; use a type such as TXT, CNAME, MX or A") from None


def display_name(name: dns.name.Name) -> str:
    """Return the name in lower case without the final dot, the form Answer.name uses."""
    return name.to_text(omit_final_dot=True).lower()


def display_names(names) -> tuple[str, ...]:
    return tuple(display_name(name) for name in names)


def presentation_records(rdataset) -> tuple[str, ...]:
    """Return the records in presentation form, sorted so that reports are stable.

    A TXT record's character-strings are joined without a separator (RFC 7208 section 3.3,
    RFC 6376 section 3.6.2.2). Bytes that are not UTF-8 are kept as backslash escapes.
    Names inside records (CNAME, MX, NS targets) are absolute, with the final dot.
    """
    records = []
    for rdata in rdataset:
        if rdataset.rdtype in (dns.rdatatype.TXT, dns.rdatatype.SPF):
            records.append(b"".join(rdata.strings).decode("utf-8", errors="backslashreplace"))
        else:
            records.append(rdata.to_text())
    return tuple(sorted(records))
