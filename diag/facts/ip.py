"""Normalise IP address text the way the ipaddress module does, with a fast path for IPv4.

The fact modules compare the same few addresses several times per message (the client
address against every Received hop), and ipaddress.ip_address() costs several
microseconds per call, more when it raises for a host name. A dotted-quad string that
ipaddress accepts is already in the form str() returns, so such a string is returned as
it is.
"""

import functools
import ipaddress
import re

# Exactly the IPv4 text that ipaddress.IPv4Address accepts (Python 3.9.5 and later): four
# decimal octets of 0 to 255, ASCII digits, no leading zeros.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def normal_ip(text: str) -> str | None:
    """Return `text` as str(ipaddress.ip_address(text)) does, or None when it is no address."""
    if _DOTTED_QUAD.fullmatch(text) is not None:
        return text
    # Any other IPv4 text is invalid, and IPv6 text has at least two colons (RFC 4291
    # section 2.2), so a host name is rejected without the cost of an exception.
    if ":" not in text:
        return None
    return _normal_ipv6(text)


# Receivers' own IPv6 addresses recur across messages, and parsing one with str() takes
# about 5 µs.
@functools.lru_cache(maxsize=1024)
def _normal_ipv6(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
