"""Find the IP address that connected to the trusted receiver: the input of its SPF check.

RFC 7208 section 2.4 evaluates SPF for the SMTP client that connected to the receiver, so
the address must come from the receiver's first hop, not from an earlier relay. In order:

1. Microsoft 365 writes it into its own Authentication-Results, `spf=pass (sender IP is X)`,
   and into X-Forefront-Antispam-Report as `CIP:X` (Microsoft Learn, "Anti-spam message
   headers in Microsoft 365").
2. Other receivers: the topmost Received field whose `by` host belongs to the receiver (the
   organisational domain of its authserv-id) and whose `from` host does not.
3. Otherwise the first Received field below the trusted Authentication-Results, the field
   the receiver added when it accepted the message.
"""

import functools
import ipaddress
import re

from diag.facts.ip import normal_ip
from diag.facts.orgdomain import org_domain

# Matched against the lower-cased comment, because the regex engine finds the literal
# start of a case-sensitive pattern faster than it tries re.IGNORECASE at every position.
_SENDER_IP = re.compile(r"sender\s+ip\s+is\s+([0-9a-f:.]+)")
_INTERNAL = tuple(ipaddress.ip_network(network) for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))


# The helpers below are cached because the same relay addresses and host names recur
# from message to message, and each is called for every Received hop.
@functools.lru_cache(maxsize=4096)
def _address(text: str | None) -> str | None:
    if not text:
        return None
    return normal_ip(text.strip().strip("[]").rstrip("."))


# ipaddress.ip_address() costs several microseconds.
@functools.lru_cache(maxsize=4096)
def _is_outside(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return not (address.is_loopback or address.is_link_local or any(address in network for network in _INTERNAL if network.version == address.version))


@functools.lru_cache(maxsize=4096)
def _host_org(host: str | None) -> str | None:
    if not host or _address(host):
        return None
    return org_domain(host)


def _trusted_clauses(facts: dict, method: str) -> list[dict]:
    auth = facts.get("auth", {})
    positions = (auth.get("trusted") or {}).get("positions")
    if not positions:
        return []
    positions = set(positions)
    # Plain loops, because a generator expression costs more than the few items it visits.
    clauses = []
    for header in auth.get("headers", []):
        if header.get("position") in positions:
            for result in header.get("results", []):
                if result.get("method") == method:
                    clauses.append(result)
    return clauses


def _hop_with_ip(hops: list[dict], ip: str) -> dict | None:
    for hop in hops:
        if _address(hop.get("from_ip")) == ip:
            return hop
    return None


def _result(ip: str, source: str, hop: dict | None) -> dict:
    found = {"ip": ip, "ip_source": source}
    if hop is not None:
        found["helo"] = hop.get("from")
        found["received_position"] = hop.get("position")
        if hop.get("timestamp") is not None:
            found["received_at"] = hop["timestamp"]
    return found


def connecting_client(facts: dict) -> dict | None:
    """Return {ip, ip_source, helo, received_position, received_at} for the receiver's SMTP client, or None."""
    hops = facts.get("received", {}).get("hops", [])

    for clause in _trusted_clauses(facts, "spf"):
        match = _SENDER_IP.search((clause.get("comment") or "").lower())
        ip = _address(match.group(1)) if match else None
        if ip:
            return _result(ip, "authentication-results", _hop_with_ip(hops, ip))
    cip = _address(facts.get("microsoft", {}).get("cip"))
    if cip:
        return _result(cip, "x-forefront-antispam-report", _hop_with_ip(hops, cip))

    trusted = facts.get("auth", {}).get("trusted") or {}
    receiver = org_domain(trusted.get("authserv_id")) if trusted.get("authserv_id") else None
    if receiver:
        for hop in hops:
            ip = _address(hop.get("from_ip"))
            if ip and _host_org(hop.get("by")) == receiver and _host_org(hop.get("from")) != receiver and _is_outside(ip):
                return _result(ip, "received-boundary", hop)

    top = min(trusted.get("positions") or [0])
    for hop in hops:
        ip = _address(hop.get("from_ip"))
        if hop.get("position", 0) > top and ip and _is_outside(ip):
            return _result(ip, "received-below-authentication-results", hop)
    return None
