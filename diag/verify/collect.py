"""Fill `verify.*`: our own DKIM, ARC, SPF and DMARC results for a full message, beside the receiver's.

Runs only when the input has a body and DNS answers are available (see `should_verify`).
Each result also carries the receiver's verdict for the same check (`receiver_result`), so
rules can name the checks where we disagree with the receiver.
"""

import logging
import time

from diag.dns.resolver import Resolver
from diag.verify.lookup import CachingResolver, KeyStore

log = logging.getLogger(__name__)


class VerifySession:
    """The resolver and DKIM key cache of one run, shared by every message it verifies."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = CachingResolver(resolver)
        self.keys = KeyStore(self.resolver)
        # SPF results of the run, keyed as diag.verify.spf._check explains.
        self.spf_results: dict = {}


def should_verify(facts: dict, session: VerifySession | None) -> bool:
    """Tell whether to verify: a full message (headers and body) and a source of DNS answers."""
    return session is not None and facts.get("input", {}).get("kind") == "message" and facts.get("content", {}).get("has_body", True)


def verify_message(message: bytes, facts: dict, session: VerifySession | None) -> dict | None:
    """Return the `verify` facts, or None when `should_verify` returns False."""
    if not should_verify(facts, session):
        return None
    from diag.messages.repair import NOTE_KINDS

    if any(repair.get("kind") not in NOTE_KINDS for repair in facts["input"].get("repairs") or ()):
        # The repaired bytes are not the bytes that were signed, so every signature would fail.
        return {"skipped": "the input was repaired (a damaged paste), so its signatures cannot be checked; pass the original .eml file"}
    return collect(message, facts, session)


def _mbox_stripped(message: bytes) -> bytes:
    # An mbox "From " separator line is not a header field (RFC 4155); dkimpy skips it too.
    if message.startswith(b"From "):
        return message.split(b"\n", 1)[1] if b"\n" in message else b""
    return message


def _receiver_dkim(facts: dict) -> dict[int, dict]:
    """Return {signature index: the receiver's dkim clause} from verdicts.dkim."""
    return {entry["signature"]: entry for entry in facts.get("verdicts", {}).get("dkim", []) if entry.get("signature") is not None}


def _dkim(message: bytes, facts: dict, session: VerifySession, client: dict | None) -> list[dict]:
    from diag.verify.dkim import SignatureVerifier

    received_at = (client or {}).get("received_at")
    # The receiver verified when its first hop accepted the message, so only the hops
    # below that Received field can have changed what it verified.
    boundary = (client or {}).get("received_position", 0)
    signatures = SignatureVerifier(message, session.keys, received_at=received_at).verify_all()
    receiver = _receiver_dkim(facts)
    header_signatures = facts.get("dkim_signatures", [])
    hops = facts.get("received", {}).get("hops", [])
    for entry in signatures:
        if entry["result"] != "pass" and entry["index"] < len(header_signatures):
            # Header fields are prepended in transit, so the Received fields above a
            # DKIM-Signature were added by the hops that handled the message after signing.
            position = header_signatures[entry["index"]].get("position", 0)
            entry["after_signing_hops"] = [hop.get("by") or hop.get("raw", "")[:80] for hop in hops if boundary < hop.get("position", 0) < position]
        if entry["index"] in receiver:
            clause = receiver[entry["index"]]
            entry["receiver_result"] = clause.get("result")
            if clause.get("comment") or clause.get("reason"):
                entry["receiver_comment"] = clause.get("comment") or clause.get("reason")
        if entry.get("receiver_result") == "pass" and entry["result"] != "pass":
            entry["since_receipt"] = _since_receipt(entry, received_at)
    return signatures


def _since_receipt(entry: dict, received_at: float | None) -> str:
    """Explain a signature that the receiver accepted and that fails now."""
    when = time.strftime("%Y-%m-%d", time.gmtime(received_at)) if received_at else "delivery"
    if entry["reason"] in ("key-not-found", "key-revoked"):
        signed = f" (signed {entry['signed_at']})" if entry.get("signed_at") else ""
        return f"the key {entry.get('key_name')} was removed or revoked after {when}{signed}: the signer rotated its selector"
    if entry["reason"] == "expired" and entry.get("expired_at_receipt"):
        # RFC 6376 section 3.5: verifiers MAY consider an expired signature invalid.
        return "x= had already passed when the receiver checked it, and the receiver ignored x="
    if entry["reason"] == "expired":
        return "the signature's x= date has passed since the receiver checked it"
    change = entry.get("body_change") or {}
    if change.get("kind") == "appended":
        return (
            f"{change.get('appended_bytes')} bytes were appended to the body after the receiver checked it: a step after delivery"
            " (a mailbox rule, an archiving or journaling system, or the export that wrote this file) added them"
        )
    if change:
        return "the body changed after the receiver checked it: a step after delivery (a mailbox rule, an archive, a client that re-saved it, or the export that wrote this file) changed it"
    if entry["reason"] == "header-signature-mismatch":
        return "a signed header field changed after the receiver checked it: a step after delivery (a mailbox rule, an archive, a client that re-saved it, or the export that wrote this file) changed it"
    return f"the result changed since {when}: {entry['detail']}"


def _spf(facts: dict, session: VerifySession, client: dict | None) -> dict | None:
    from diag.verify.spf import check_spf

    if client is None:
        return None
    verdicts = facts.get("verdicts", {})
    mailfrom = None
    for header in facts.get("auth", {}).get("headers", []):
        if header.get("position") in set((facts.get("auth", {}).get("trusted") or {}).get("positions") or []):
            for result in header.get("results", []):
                if result.get("method") == "spf" and result.get("properties", {}).get("smtp.mailfrom"):
                    mailfrom = mailfrom or result["properties"]["smtp.mailfrom"]
    if mailfrom is None:
        mailfrom = (facts.get("identities", {}).get("return_path") or {}).get("address") or verdicts.get("spf_domain")

    fact = {key: client[key] for key in ("ip", "ip_source") if key in client}
    fact.update(check_spf(session.resolver, client["ip"], mailfrom, client.get("helo"), session.spf_results))
    if verdicts.get("spf"):
        fact["receiver_result"] = verdicts["spf"]
    return fact


def collect(message: bytes, facts: dict, session: VerifySession) -> dict:
    """Return the `verify` facts of one message."""
    import dkim  # dkimpy; kept off the `analyze --offline` import path

    from diag.verify.arc import verify_arc
    from diag.verify.boundary import connecting_client
    from diag.verify.dmarc import evaluate

    message = _mbox_stripped(message)
    client = connecting_client(facts)
    result: dict = {}

    try:
        result["dkim"] = _dkim(message, facts, session, client)
        # The header facts list every ARC field, so dkimpy parses the message again only
        # when there is a chain to validate.
        sets = facts.get("arc", {}).get("sets", [])
        arc = verify_arc(message, session.keys, sets) if sets else None
    except dkim.MessageFormatError as error:
        # dkimpy's parser rejects a header line without a colon; report it, keep the rest.
        result["dkim"] = []
        result["error"] = f"dkimpy could not parse the message: {error}"
        arc = None
    if arc is not None:
        if facts.get("verdicts", {}).get("arc"):
            arc["receiver_result"] = facts["verdicts"]["arc"]
        result["arc"] = arc

    spf = _spf(facts, session, client)
    if spf is not None:
        result["spf"] = spf

    from_domain = (facts.get("identities", {}).get("from") or {}).get("domain")
    dmarc = evaluate(session.resolver, from_domain, spf, result["dkim"])
    if dmarc is not None:
        if facts.get("verdicts", {}).get("dmarc"):
            dmarc["receiver_result"] = facts["verdicts"]["dmarc"]
        result["dmarc"] = dmarc
    result["dkim"] = _aligned_first(result["dkim"], from_domain, strict=(dmarc or {}).get("adkim") == "s")
    return result


def _aligned_first(signatures: list[dict], from_domain: str | None, *, strict: bool) -> list[dict]:
    """Mark each signature `aligned` (RFC 7489 section 3.1.1) and its sending service, and put aligned ones first.

    Rules bind `item` to the first signature a `some` condition matches, and the signature
    DMARC needs is the aligned one, so it must come before a provider's own signature.
    """
    from diag.facts.esp import provider_of
    from diag.facts.orgdomain import aligned

    for entry in signatures:
        entry["aligned"] = bool(from_domain and entry.get("d") and aligned(entry["d"], from_domain, strict=strict))
        provider = provider_of(entry.get("d"))
        if provider and not entry["aligned"]:
            entry["esp"] = provider
    return sorted(signatures, key=lambda entry: (not entry["aligned"], entry["index"]))
