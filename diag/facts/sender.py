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

import logging
import re

from diag.facts import authres
from diag.facts.ip import normal_ip
from diag.messages.model import Header
from diag.verify.boundary import connecting_client

log = logging.getLogger(__name__)

# RFC 7208 section 9.1 shows this comment wording, and Gmail and Yahoo write it.
_DESIGNATES = re.compile(r"designates?\s+([0-9A-Fa-f:.]+)\s+as\s+permitted\s+sender", re.IGNORECASE)


def _address(text: str | None) -> str | None:
    if not text:
        return None
    return normal_ip(text.strip().strip("[]"))


def _host(text: str | None) -> str | None:
    """Return a host name in lower case without a trailing dot, or None for an address or nothing."""
    if not text or _address(text):
        return None
    return text.strip().strip("[]").rstrip(".").lower() or None


def _receiver_received_spf(headers: list[Header], facts: dict) -> dict | None:
    """Return the receiver's Received-SPF, parsed, with its position; None when there is none.

    The receiver adds Received-SPF next to its own Received field and Authentication-Results.
    One written further down, below the first Received field under the trusted
    Authentication-Results, belongs to an earlier hop (a list server's check) and is skipped.
    """
    header = next((header for header in headers if header.is_named("Received-SPF")), None)
    if header is None:
        return None

    trusted_positions = (facts.get("auth", {}).get("trusted") or {}).get("positions") or []
    if trusted_positions:
        top = max(trusted_positions)
        limit = next((field.position for field in headers if field.position > top and field.is_named("Received")), None)
        if limit is not None and header.position > limit:
            return None

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
    return next((hop for hop in hops if _address(hop.get("from_ip")) == ip), None)


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

    rdns = _host(hop.get("from_rdns")) if hop is not None else None
    if rdns is None and microsoft_matches:
        rdns = _host(microsoft.get("ptr"))
    if rdns:
        sender["sender_rdns"] = rdns

    log.debug("sender IP %s from %s", ip, source)
    return sender, received_spf
