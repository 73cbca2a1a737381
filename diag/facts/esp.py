"""Recognise email service providers by domain, from rules/tables/esp.yaml, and weigh the
evidence that one of them delivered a message."""

import functools

from diag.facts import tables
from diag.facts.orgdomain import org_domain

# Strength of one piece of evidence. Strong evidence is written by the service or by the
# receiver (Feedback-ID, X-SES-Outgoing, the MAIL FROM domain, a DKIM signature the
# receiver verified, the host that connected to the receiver). Weak evidence is text the
# sending program can choose itself: the Message-ID, and a DKIM-Signature field that
# neither the receiver nor maildiag verified.
STRONG = "strong"
WEAK = "weak"

# identities.* keys that weigh() derives from identities.esp_evidence.
_DERIVED = ("esp", "esp_source", "esp_unconfirmed", "esp_conflict", "ses_markers")
# Every identities.* key that weigh() sets.
_WEIGHED = frozenset({"esp_evidence", *_DERIVED})


@functools.lru_cache(maxsize=1)
def _domains() -> dict[str, str]:
    # tables.load reads the file once, with libyaml, for both functions here.
    table = tables.load("esp")
    by_domain = {}
    for key, provider in table["providers"].items():
        for domain in provider["domains"]:
            by_domain[domain] = key
    return by_domain


# Cached because the same sending hosts and domains recur across messages, and each
# message looks up several of them (Message-ID host, Return-Path, DKIM d=, client host).
@functools.lru_cache(maxsize=4096)
def provider_of(domain: str | None) -> str | None:
    """Return the provider key (`amazonses`, `sendgrid`, ...) owning `domain`, or None."""
    organisational = org_domain(domain)
    if organisational is None:
        return None
    return _domains().get(organisational)


@functools.lru_cache(maxsize=1)
def provider_names() -> dict[str, str]:
    """Return provider key to display name."""
    table = tables.load("esp")
    return {key: provider["name"] for key, provider in table["providers"].items()}


def evidence_entry(field: str, value: str, provider: str | None, strength: str) -> dict:
    """Build one identities.esp_evidence item; `esp` is left out when no provider is named."""
    entry = {"field": field, "value": value, "strength": strength}
    if provider is not None:
        entry["esp"] = provider
    return entry


def add_receiver_evidence(identities: dict, verdicts: dict) -> None:
    """Add what the receiver recorded about the sending service to identities, then weigh it all.

    The receiver writes these itself, so each is strong: the MAIL FROM domain it checked
    SPF for, a DKIM signature it verified, and the host that connected to it (its reverse
    DNS name, else its HELO name). The Received fields of mail that SES delivers name SES
    hosts such as a25-7.smtp-out.us-east-1.amazonses.com, so a message whose first hop came
    from another host was delivered by that host, whatever its Message-ID contains.
    """
    # A new list, because weigh() stores it. Its items are shared with the old list, and
    # _confirm_signature replaces an item instead of changing it.
    found = list(identities.get("esp_evidence") or [])

    mail_from = verdicts.get("spf_domain") if verdicts.get("spf_identity") == "mailfrom" else None
    provider = provider_of(mail_from)
    if provider is not None and not any(entry["field"] == "Return-Path" and entry.get("esp") == provider for entry in found):
        found.append(evidence_entry("Authentication-Results", f"smtp.mailfrom={mail_from}", provider, STRONG))

    for signature in verdicts.get("dkim") or []:
        if signature.get("result") == "pass" and signature.get("esp"):
            _confirm_signature(found, signature["domain"], signature["esp"], "dkim=pass at the receiver")

    client = verdicts.get("sender_rdns") or verdicts.get("sender_helo")
    if client:
        value = f"{client} ({verdicts['sender_ip']})" if verdicts.get("sender_ip") else client
        found.append(evidence_entry("Received", value, provider_of(client), STRONG))

    weigh(identities, found)


def add_verified_evidence(identities: dict, verified: dict) -> None:
    """Mark the DKIM-Signature evidence strong for each sending service signature that
    maildiag verified itself (verify.dkim), then weigh the evidence again."""
    found = list(identities.get("esp_evidence") or [])
    for signature in verified.get("dkim") or []:
        if signature.get("result") == "pass" and signature.get("esp") and signature.get("d"):
            _confirm_signature(found, signature["d"], signature["esp"], "verified by maildiag")
    weigh(identities, found)


def _confirm_signature(found: list[dict], domain: str, provider: str, how: str) -> None:
    """Mark the DKIM-Signature evidence for `domain` strong, noting `how` it was verified.

    The item is replaced by a changed copy, because the evidence list that `found` was
    copied from shares its items.
    """
    for index, entry in enumerate(found):
        if entry["field"] == "DKIM-Signature" and entry["value"] == f"d={domain}":
            found[index] = dict(entry, value=f"d={domain} ({how})", strength=STRONG)
            return
        if entry["field"] == "DKIM-Signature" and entry["value"].startswith(f"d={domain} ("):
            # Already confirmed, by the receiver or by an earlier call.
            return
    found.append(evidence_entry("Authentication-Results", f"dkim=pass header.d={domain}", provider, STRONG))


def weigh(identities: dict, evidence: list[dict]) -> None:
    """Set identities.esp_evidence and the facts derived from it.

    `esp` names a service only on strong evidence, the first strong item in `evidence`
    order. `esp_unconfirmed` names one that only weak evidence points to. `esp_conflict`
    is true when the header names a service but the host that connected to the receiver
    is not one of its hosts: a direct server, or a relay after the service. `ses_markers`
    lists the fields that point to Amazon SES once strong evidence confirms it.
    """
    # The intersection is computed in C, and the first weighing finds none of the keys.
    for key in _WEIGHED.intersection(identities):
        del identities[key]
    if not evidence:
        return
    identities["esp_evidence"] = evidence

    # One pass finds the first strong item that names a service, the first item of any
    # strength that names one, and the first Received item.
    strong = weak = client = None
    for entry in evidence:
        if entry.get("esp"):
            if strong is None and entry["strength"] == STRONG:
                strong = entry
            if weak is None:
                weak = entry
        if client is None and entry["field"] == "Received":
            client = entry

    if strong is not None:
        named = identities["esp"] = strong["esp"]
        identities["esp_source"] = strong["field"]
    else:
        named = weak["esp"] if weak is not None else None
        if named is not None:
            identities["esp_unconfirmed"] = named

    if named is not None and client is not None and client.get("esp") != named:
        identities["esp_conflict"] = True

    if identities.get("esp") == "amazonses":
        fields = [entry["field"] for entry in evidence if entry.get("esp") == "amazonses"]
        identities["ses_markers"] = list(dict.fromkeys(fields))
