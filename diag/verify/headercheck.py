"""Say what probably changed when a DKIM header signature fails but the body hash matches.

The header hash covers the fields listed in h= (RFC 6376 section 3.7). One change is
proven by re-verifying: under `simple` header canonicalisation (section 3.4.1) a hop that
only re-folds a long field breaks the signature, so the message is verified again with the
signed fields unfolded. Other causes are hints read from the fields that lists and
forwarders add, and are worded as likely, not proven.
"""

import logging
import re

log = logging.getLogger(__name__)

_FOLD = re.compile(rb"\r\n(?=[ \t])")
_SUBJECT_TAG = re.compile(r"^\s*(?:(?:re|fwd?|aw|sv):\s*)*\[[^\]]+\]", re.IGNORECASE)


def _signed_names(raw_tags: dict) -> list[bytes]:
    return [name.strip().lower() for name in raw_tags[b"h"].split(b":") if name.strip()]


def _field(headers: list, name: bytes) -> str | None:
    """Return the bottom-most value of a field, the instance a verifier hashes first."""
    for field_name, value in reversed(headers):
        if field_name.lower() == name:
            return value.decode("utf-8", "replace").strip()
    return None


def signature_key_name(raw_tags: dict) -> str:
    return f"{raw_tags[b's'].decode('ascii')}._domainkey.{raw_tags[b'd'].decode('ascii')}".lower()


def refolded_fields(signature, raw_tags: dict, header: tuple) -> list[str] | None:
    """Return the signed fields whose folding broke a `simple` signature, or None if unfolding does not help."""
    import dkim  # dkimpy

    canonicalisation = raw_tags.get(b"c", b"simple/simple").split(b"/")[0].strip().lower()
    if canonicalisation != b"simple":
        return None
    signed = set(_signed_names(raw_tags))
    headers = signature.verifier.headers
    folded = [name for name, value in headers if name.lower() in signed and name.lower() != b"dkim-signature" and _FOLD.search(value.rstrip(b"\r\n"))]
    if not folded:
        return None

    # Rebuild the message with the signed fields on one line each, as the signer saw them.
    lines = []
    for name, value in headers:
        if name.lower() in signed and name.lower() != b"dkim-signature":
            value = _FOLD.sub(b"", value.rstrip(b"\r\n")) + b"\r\n"
        lines.append(name + b":" + value)
    rebuilt = b"".join(lines) + b"\r\n" + signature.verifier.body
    trial = dkim.DKIM(rebuilt, logger=signature.verifier.logger, minkey=signature.verifier.minkey)
    position = [index for index, (name, value) in enumerate(headers) if (name, value) == tuple(header)][0]
    include_headers = [name.lower() for name in re.split(rb"\s*:\s*", raw_tags[b"h"])]
    try:
        valid = signature.verify_with_cached_key(trial, signature_key_name(raw_tags), raw_tags, include_headers, tuple(trial.headers[position]))
    except dkim.DKIMException as error:
        log.debug("unfolded re-verification failed: %s", error)
        return None
    return sorted({name.decode("ascii", "replace") for name in folded}) if valid else None


def likely_causes(headers: list, raw_tags: dict) -> list[str]:
    """Return hints about which signed field an intermediary edited."""
    signed = _signed_names(raw_tags)
    causes = []
    list_id = _field(headers, b"list-id")
    subject = _field(headers, b"subject")
    if b"subject" in signed and subject and _SUBJECT_TAG.match(subject):
        causes.append(f"the Subject starts with a [tag] ({subject[:60]!r}), which mailing lists add")
    if list_id:
        causes.append(f"a mailing list ({list_id[:80]}) re-sent the message; lists often edit the Subject, From or other fields")

    signer = raw_tags.get(b"d", b"").decode("ascii", "replace").lower()
    from_value = _field(headers, b"from") or ""
    address = re.search(r"@([A-Za-z0-9.-]+)", from_value)
    from_domain = address.group(1).lower() if address else None
    original_from = _field(headers, b"x-original-from")
    if from_domain and signer and not (from_domain == signer or from_domain.endswith("." + signer)) and (original_from or list_id):
        causes.append(f"From now names {from_domain}, not the signer {signer}: a list or forwarder rewrote From")
    if not causes:
        causes.append("a hop edited one of the signed fields: " + ", ".join(name.decode("ascii", "replace") for name in signed))
    return causes


def diagnose_headers(signature, raw_tags: dict, header: tuple) -> dict:
    """Return {kind, detail, ...}: `refolded` when unfolding restores the signature, else `changed`."""
    fields = refolded_fields(signature, raw_tags, header)
    if fields:
        return {
            "kind": "refolded",
            "fields": fields,
            "detail": f"a hop re-folded {', '.join(fields)}; the signature uses simple header canonicalisation, which counts folding whitespace (RFC 6376 section 3.4.1)",
        }
    causes = likely_causes(signature.verifier.headers, raw_tags)
    return {"kind": "changed", "likely_causes": causes, "detail": "likely cause: " + "; ".join(causes)}
