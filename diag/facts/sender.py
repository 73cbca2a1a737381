"""Name the SMTP client that connected to the receiver: its IP address, HELO name and reverse DNS.

SPF is evaluated for this client (RFC 7208 section 2.4), so a fix for a failing SPF result
has to name it. The address comes from, in order:

1. the receiver's Authentication-Results comment `spf=... (sender IP is X)` (Microsoft 365);
2. the receiver's Received-SPF field, `client-ip=X` (RFC 7208 section 9.1), or the address in
   its comment (`designates X as permitted sender`) when the receiver writes no key-value list;
3. `CIP:X` in X-Forefront-Antispam-Report (Microsoft Learn, "Anti-spam message headers");
4. the Received field the receiver added when it accepted the message.

Steps 1, 3 and 4 are diag.verify.boundary.connecting_client, which needs no network access;
this module adds step 2 and the host names.
"""

import functools
import ipaddress
import logging
import re

from diag.facts import authres
from diag.facts.ip import normal_ip
from diag.messages.model import Header, fields_by_name
from diag.verify.boundary import connecting_client

log = logging.getLogger(__name__)

# RFC 7208 section 9.1 shows this comment wording, and Gmail and Yahoo write it.
_DESIGNATES = re.compile(r"designates?\s+([0-9A-Fa-f:.]+)\s+as\s+permitted\s+sender", re.IGNORECASE)


# The helpers below are cached because the same client addresses and host names recur
# from message to message, and one message reads each of them several times.
@functools.lru_cache(maxsize=4096)
def _address(text: str | None) -> str | None:
    if not text:
        return None
    return normal_ip(text.strip().strip("[]"))


@functools.lru_cache(maxsize=4096)
def _host(text: str | None) -> str | None:
    """Return a host name in lower case without a trailing dot, or None for an address or nothing."""
    if not text or _address(text):
        return None
    return text.strip().strip("[]").rstrip(".").lower() or None


# A host name as RFC 1123 section 2.1 allows it: letters, digits and hyphens in labels of
# 1 to 63 characters that neither start nor end with a hyphen, 253 characters at most. A
# reverse DNS name needs at least two labels, because a PTR record names a full host.
_HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_HOST_LABEL}(?:\.{_HOST_LABEL})+")


@functools.lru_cache(maxsize=4096)
def _rdns_name(text: str | None) -> str | None:
    """Return a reverse DNS name in lower case, or None when `text` is no dotted host name."""
    host = _host(text)
    if host is None or _HOST_NAME.fullmatch(host) is None:
        return None
    return host


def _rdns(hop: dict | None, microsoft: dict, microsoft_matches: bool) -> dict:
    """Return verdicts.sender_rdns, .sender_rdns_source and .sender_rdns_missing for the client.

    The receiver's Received field names the client's reverse DNS name in its from-clause
    comment. Microsoft Learn ("Anti-spam message headers in Microsoft 365") documents PTR: in
    X-Forefront-Antispam-Report as the PTR record of the source IP address. Messages show
    placeholders there when the address has none (InfoNoRecords, InfoDomainNonexistent),
    which the page does not list, so any PTR: value that is not a dotted host name is read
    as "no reverse DNS".
    """
    rdns = _rdns_name(hop.get("from_rdns")) if hop is not None else None
    if rdns is not None:
        return {"sender_rdns": rdns, "sender_rdns_source": "received", "sender_rdns_missing": False}

    # facts/microsoft drops an empty PTR: field, so "ptr" here is never an empty string.
    ptr = microsoft.get("ptr") if microsoft_matches else None
    if not ptr:
        # NOTE: Postfix writes "unknown [IP]" when the client has no verified reverse name,
        # but facts/received does not keep that word, so it is not read as missing here.
        return {}
    rdns = _rdns_name(ptr)
    if rdns is not None:
        return {"sender_rdns": rdns, "sender_rdns_source": "x-forefront-antispam-report", "sender_rdns_missing": False}
    log.debug("PTR:%s in X-Forefront-Antispam-Report is not a host name, so the client has no reverse DNS", ptr)
    return {"sender_rdns_source": "x-forefront-antispam-report", "sender_rdns_missing": True}


def _receiver_received_spf(headers: list[Header], facts: dict) -> dict | None:
    """Return the receiver's Received-SPF, parsed, with its position; None when there is none.

    The receiver adds Received-SPF next to its own Received field and Authentication-Results.
    One written further down, below the first Received field under the trusted
    Authentication-Results, belongs to an earlier hop (a list server's check) and is skipped.
    """
    fields = fields_by_name(headers)
    if "received-spf" not in fields:
        return None
    header = fields["received-spf"][0]

    trusted_positions = (facts.get("auth", {}).get("trusted") or {}).get("positions") or []
    if trusted_positions:
        top = max(trusted_positions)
        for field in fields.get("received", ()):
            if field.position > top:
                if header.position > field.position:
                    return None
                break

    parsed = authres.parse_received_spf(header.unfolded)
    entry = {"position": header.position, "raw": header.unfolded, "result": parsed["result"]}
    pairs = parsed["pairs"]
    ip = _address(pairs.get("client-ip"))
    if ip is None:
        match = _DESIGNATES.search(parsed["comment"] or "")
        ip = _address(match.group(1)) if match else None
    if ip:
        entry["client_ip"] = ip
    for key, name in (("helo", "helo"), ("envelope-from", "envelope_from"), ("receiver", "receiver"), ("identity", "identity")):
        if pairs.get(key):
            entry[name] = pairs[key]
    if parsed["errors"]:
        entry["errors"] = parsed["errors"]
    return entry


def _hop_with(hops: list[dict], ip: str) -> dict | None:
    for hop in hops:
        if _address(hop.get("from_ip")) == ip:
            return hop
    return None


def collect(headers: list[Header], facts: dict) -> tuple[dict, dict | None]:
    """Return (verdicts.sender_* facts, auth.received_spf or None) for one message.

    `facts` must already hold auth, microsoft and received.
    """
    received_spf = _receiver_received_spf(headers, facts)
    client = connecting_client(facts)

    if client is not None and client["ip_source"] == "authentication-results":
        ip, source = client["ip"], client["ip_source"]
    elif received_spf is not None and received_spf.get("client_ip"):
        ip, source = received_spf["client_ip"], "received-spf"
    elif client is not None:
        ip, source = client["ip"], client["ip_source"]
    else:
        return {}, received_spf

    sender: dict = {"sender_ip": ip, "sender_ip_source": source}
    hop = _hop_with(facts.get("received", {}).get("hops", []), ip)
    microsoft = facts.get("microsoft") or {}
    microsoft_matches = _address(microsoft.get("cip")) == ip

    # The HELO name as the receiver recorded it: Received-SPF helo=, Forefront H:, or the
    # Received from-clause, which contains the name the client gave in EHLO (RFC 5321 section 4.4).
    helo = None
    if received_spf is not None and received_spf.get("client_ip") == ip:
        helo = _host(received_spf.get("helo"))
    if helo is None and microsoft_matches:
        helo = _host(microsoft.get("h"))
    if helo is None and hop is not None:
        helo = _host(hop.get("from"))
    if helo:
        sender["sender_helo"] = helo

    sender.update(_rdns(hop, microsoft, microsoft_matches))
    if sender.get("sender_rdns_missing"):
        # The name a PTR record for the address is published at (RFC 1035 section 3.5,
        # RFC 3596 section 2.5), for the fix.
        sender["sender_reverse_name"] = ipaddress.ip_address(ip).reverse_pointer

    log.debug("sender IP %s from %s", ip, source)
    return sender, received_spf
