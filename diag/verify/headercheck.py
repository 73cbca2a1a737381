"""Say what probably changed when a DKIM header signature fails but the body hash matches.

The header hash covers the fields listed in h= (RFC 6376 section 3.7). Under `simple`
header canonicalisation (section 3.4.1) a hop that only re-folds a field or changes its
spaces breaks the signature. That change is proven by verifying again with the signed
fields in whitespace variants (see whitespace_changed_fields). Other causes are hints read
from the fields that lists and forwarders add, and are worded as likely, not proven.
"""

import logging
import re

log = logging.getLogger(__name__)

_FOLD = re.compile(rb"\r\n(?=[ \t])")
_WSP_RUN = re.compile(rb"[ \t]+")
# Bounds on the re-verifications of whitespace_changed_fields: each costs one header hash
# and one public-key operation.
MAX_FOLDS_PER_FIELD = 60
MAX_TRIALS = 300
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


def _unfolded(value: bytes) -> bytes:
    return _FOLD.sub(b"", value.rstrip(b"\r\n"))


def _normalised(value: bytes) -> bytes:
    """Return the value unfolded, each run of spaces and tabs as one space, no trailing space.

    Relaxed header canonicalisation (RFC 6376 section 3.4.2) also unfolds, collapses these
    runs and drops the spaces around the colon, so it ignores every change made here. One
    space is kept after the colon, as senders write it.
    """
    collapsed = _WSP_RUN.sub(b" ", _unfolded(value)).rstrip(b" ")
    return collapsed if collapsed.startswith(b" ") else b" " + collapsed


def _candidate_values(value: bytes) -> list[bytes]:
    """Return values that differ from `value` only in folding and whitespace, most likely first.

    A relay that moves or removes a fold cannot be undone exactly, so after the unfolded and
    normalised forms each single fold at an existing space is tried (RFC 5322 section 2.2.3
    folds only at whitespace).
    """
    normal = _normalised(value)
    candidates = [_unfolded(value), normal]
    spaces = [index for index in range(1, len(normal)) if normal[index:index + 1] == b" "]
    candidates += [normal[:index] + b"\r\n" + normal[index:] for index in spaces[:MAX_FOLDS_PER_FIELD]]
    stripped = value.rstrip(b"\r\n")
    unique = []
    for candidate in candidates:
        if candidate != stripped and candidate not in unique:
            unique.append(candidate)
    return unique


def _verifies_with(signature, raw_tags: dict, header: tuple, replacements: dict[bytes, bytes]) -> bool:
    """Re-verify the message with the signed fields named in `replacements` given new values."""
    import dkim  # dkimpy

    headers = signature.verifier.headers
    lines = []
    for name, value in headers:
        if name.lower() in replacements:
            value = replacements[name.lower()] + b"\r\n"
        lines.append(name + b":" + value)
    rebuilt = b"".join(lines) + b"\r\n" + signature.verifier.body
    trial = dkim.DKIM(rebuilt, logger=signature.verifier.logger, minkey=signature.verifier.minkey)
    position = [index for index, (name, value) in enumerate(headers) if (name, value) == tuple(header)][0]
    include_headers = [name.lower() for name in re.split(rb"\s*:\s*", raw_tags[b"h"])]
    try:
        return bool(signature.verify_with_cached_key(trial, signature_key_name(raw_tags), raw_tags, include_headers, tuple(trial.headers[position])))
    except dkim.DKIMException as error:
        log.debug("whitespace re-verification failed: %s", error)
        return False


def whitespace_changed_fields(signature, raw_tags: dict, header: tuple) -> list[str] | None:
    """Return the signed fields whose folding or whitespace broke a `simple` signature, or None.

    Each trial changes only whitespace, so a trial that verifies proves that the fields
    differ from the signed ones in whitespace alone, which relaxed header canonicalisation
    (RFC 6376 section 3.4.2) ignores.
    """
    canonicalisation = raw_tags.get(b"c", b"simple/simple").split(b"/")[0].strip().lower()
    if canonicalisation != b"simple":
        return None
    signed = set(_signed_names(raw_tags)) - {b"dkim-signature"}
    fields = {}
    for name, value in signature.verifier.headers:
        if name.lower() in signed:
            # A field name that appears twice is left alone: one replacement would change both.
            fields[name.lower()] = None if name.lower() in fields else (name, value)
    fields = {key: field for key, field in fields.items() if field is not None}

    # Every field at once, unfolded and then normalised: a relay that re-folded or re-spaced
    # several fields.
    for transform in (_unfolded, _normalised):
        replacements = {key: transform(value) for key, (_name, value) in fields.items()}
        changed = sorted(name.decode("ascii", "replace") for key, (name, value) in fields.items() if replacements[key] != value.rstrip(b"\r\n"))
        if changed and _verifies_with(signature, raw_tags, header, replacements):
            return changed

    # One field at a time, with each candidate fold: a fold that a relay moved or removed.
    trials = 0
    for key, (name, value) in fields.items():
        for candidate in _candidate_values(value):
            trials += 1
            if trials > MAX_TRIALS:
                # NOTE: past this bound a whitespace change is reported as a hint, not proven.
                log.debug("whitespace trials stopped after %d", MAX_TRIALS)
                return None
            if _verifies_with(signature, raw_tags, header, {key: candidate}):
                return [name.decode("ascii", "replace")]
    return None


def likely_causes(headers: list, raw_tags: dict) -> list[str]:
    """Return hints about which signed field an intermediary edited."""
    signed = _signed_names(raw_tags)
    causes = []
    list_id = _field(headers, b"list-id")
    subject = _field(headers, b"subject")
    if b"subject" in signed and subject and _SUBJECT_TAG.match(subject):
        causes.append(f"the Subject starts with a [tag] ({subject[:60]!r}), which mailing lists and gateways add")
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
        names = ", ".join(name.decode("ascii", "replace") for name in signed if name != b"dkim-signature")
        causes.append(f"one of the signed fields ({names}) was edited after signing")
    if raw_tags.get(b"c", b"simple/simple").split(b"/")[0].strip().lower() == b"simple":
        causes.append("the signature uses c=simple for headers, so re-folding or re-spacing several fields also breaks it, and maildiag could not undo such a change")
    return causes


def diagnose_headers(signature, raw_tags: dict, header: tuple) -> dict:
    """Return {kind, detail, ...}: `refolded` when a whitespace variant restores the signature, else `changed`."""
    fields = whitespace_changed_fields(signature, raw_tags, header)
    if fields:
        return {
            "kind": "refolded",
            "fields": fields,
            "detail": (
                f"a hop re-folded or changed whitespace in {', '.join(fields)}; the signature uses c=simple for headers"
                " (RFC 6376 section 3.4.1), which counts every space and line break, and c=relaxed (section 3.4.2) would have survived the change"
            ),
        }
    causes = likely_causes(signature.verifier.headers, raw_tags)
    return {"kind": "changed", "likely_causes": causes, "detail": "likely cause: " + "; ".join(causes)}
