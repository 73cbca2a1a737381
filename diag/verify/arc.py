"""Validate the ARC chain of a full message (RFC 8617 section 5.2) with dkimpy and name the hop that broke it.

dkimpy's `ARC.verify` (1.1.8) returns the chain's cv, one result per instance (newest first,
with ams-valid, as-valid and cv) and a reason sentence. The broken instance is derived from
the per-instance results, not from the sentence:

- the newest ARC-Message-Signature does not verify: the message changed after that hop
  sealed it (section 5.2 step 5 only requires the newest AMS to verify);
- an ARC-Seal does not verify: that seal, or a set it covers, was altered;
- an ARC-Seal with cv=fail: that hop found the chain already broken when it arrived;
- cv=none above instance 1, or anything but none at instance 1, is a malformed chain.
"""

import logging

from diag.verify.lookup import KeyStore, dkimpy_logger

log = logging.getLogger(__name__)
_DKIMPY_LOG = dkimpy_logger(__name__ + ".dkimpy")


def _text(value) -> str | None:
    if value is None:
        return None
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _hop(instance: int, sets: list[dict]) -> dict:
    """Return what the header facts know about one instance: its authserv-id and signing domains."""
    for entry in sets:
        if entry.get("instance") == instance:
            return {key: entry.get(key) for key in ("authserv_id", "seal_d", "message_d")}
    return {}


def _describe(instance: int, sets: list[dict]) -> str:
    hop = _hop(instance, sets)
    names = [f"authserv-id {hop['authserv_id']}" if hop.get("authserv_id") else None, f"d={hop.get('seal_d') or hop.get('message_d')}" if hop.get("seal_d") or hop.get("message_d") else None]
    named = ", ".join(name for name in names if name)
    return f"instance {instance}" + (f" ({named})" if named else "")


def _ams_body_intact(verifier, instance: int) -> bool | None:
    """Tell whether the body still matches the bh= of the instance's ARC-Message-Signature (RFC 8617 section 4.1.2).

    The AMS hashes the body as a DKIM signature does, so a match means the break is in a
    signed header field. None when the field cannot be read.
    """
    from dkim.util import InvalidTagValueList, parse_tag_value

    from diag.verify.bodycheck import body_intact

    marker = f"i={instance};".encode("ascii")
    for name, value in verifier.headers:
        if name.lower() != b"arc-message-signature" or marker not in b"".join(value.split()).lower():
            continue
        try:
            raw = parse_tag_value(value)
        except InvalidTagValueList as error:
            log.debug("ARC-Message-Signature i=%d does not parse: %s", instance, error)
            return None
        tags = {key.decode("ascii", "replace"): item.decode("ascii", "replace") for key, item in raw.items()}
        tags.setdefault("c", "relaxed/relaxed")
        if "l" in tags:
            tags["l"] = int(tags["l"]) if tags["l"].strip().isdigit() else None
        if not {"a", "bh"} <= tags.keys():
            return None
        return body_intact(verifier.body, tags)
    return None


def _broken(instances: list[dict], sets: list[dict], verifier) -> tuple[int | None, str]:
    """Return (broken instance, detail) from dkimpy's per-instance results, newest first."""
    newest = instances[0]
    if not newest.get("ams_valid"):
        intact = _ams_body_intact(verifier, newest["instance"])
        newest["body_intact"] = intact
        if intact is False:
            what = "the body changed after that hop sealed it (its body hash bh= no longer matches)"
        elif intact:
            what = "a signed header field changed after that hop sealed it (its body hash bh= still matches)"
        else:
            what = "the message changed after that hop sealed it"
        return newest["instance"], f"the ARC-Message-Signature of {_describe(newest['instance'], sets)} does not verify: {what}"

    # The lowest instance is the earliest damage: a hop that found the chain broken, or
    # an altered set, whose alteration also breaks every seal above it (each seal covers
    # all the sets below it, RFC 8617 section 4.1.3).
    failed = sorted(entry["instance"] for entry in instances if entry.get("cv") == "fail")
    if failed:
        return failed[0], f"{_describe(failed[0], sets)} sealed with cv=fail: that hop found the chain already broken"
    bad_seals = sorted(entry["instance"] for entry in instances if not entry.get("as_valid"))
    if bad_seals:
        above = f"; the seals of instances {', '.join(map(str, bad_seals[1:]))} cover it and fail too" if len(bad_seals) > 1 else ""
        return bad_seals[0], f"the ARC-Seal of {_describe(bad_seals[0], sets)} does not verify: that ARC set was altered after it was sealed{above}"

    for entry in instances:
        if entry["instance"] == 1 and entry.get("cv") != "none":
            return 1, f"{_describe(1, sets)} has cv={entry.get('cv')}; the first seal must say cv=none (RFC 8617 section 4.1.3)"
        if entry["instance"] != 1 and entry.get("cv") == "none":
            return entry["instance"], f"{_describe(entry['instance'], sets)} has cv=none; seals after the first must say pass or fail"
    return None, "the chain validates"


def verify_arc(message: bytes, keys: KeyStore, sets: list[dict]) -> dict | None:
    """Return {result, broken_instance, detail, instances} for the ARC chain, or None without ARC fields."""
    import dkim  # dkimpy; kept off the `analyze --offline` import path

    verifier = dkim.ARC(message, logger=_DKIMPY_LOG, minkey=1024)
    try:
        cv, results, reason = verifier.verify(dnsfunc=keys.dnsfunc)
    except dkim.DKIMException as error:
        return {"result": "fail", "detail": f"the ARC fields do not parse: {error}"}
    if not results and cv == dkim.CV_None:
        return None

    instances = [
        {
            "instance": entry["instance"],
            "ams_valid": bool(entry.get("ams-valid")),
            "as_valid": bool(entry.get("as-valid")),
            "cv": (_text(entry.get("cv")) or "").lower() or None,
            "seal_d": _text(entry.get("as-domain")),
            "seal_s": _text(entry.get("as-selector")),
            "message_d": _text(entry.get("ams-domain")),
            "message_s": _text(entry.get("ams-selector")),
            **{key: value for key, value in _hop(entry["instance"], sets).items() if key == "authserv_id" and value},
        }
        for entry in results
    ]
    temporary = [name for name in _key_names(results) if keys.record(name).temporary]
    if temporary:
        return {"result": "temperror", "detail": f"a key lookup failed temporarily: {', '.join(temporary)}", "instances": instances}

    fact: dict = {"instances": instances}
    if cv == dkim.CV_Pass:
        fact["result"] = "pass"
        fact["detail"] = f"the chain of {len(instances)} instance{'s' if len(instances) != 1 else ''} validates"
        return fact

    fact["result"] = "fail"
    if not instances:
        fact["detail"] = _text(reason)
        return fact
    broken, detail = _broken(instances, sets, verifier)
    if broken is not None:
        fact["broken_instance"] = broken
        fact["broken"] = _broken_facts(broken, instances)
    fact["detail"] = detail if broken is not None else _text(reason)
    log.debug("ARC: %s (dkimpy: %s)", fact["detail"], _text(reason))
    return fact


def _broken_facts(broken: int, instances: list[dict]) -> dict:
    """Return {instance, part, key_name, body_intact} of the broken instance, for the rule's message and fix.

    `part` is `message-signature` when its ARC-Message-Signature fails, else `seal`, and
    `key_name` is the key of that signature.
    """
    entry = next(item for item in instances if item["instance"] == broken)
    part = "seal" if entry.get("ams_valid") else "message-signature"
    domain, selector = (entry.get("seal_d"), entry.get("seal_s")) if part == "seal" else (entry.get("message_d"), entry.get("message_s"))
    facts: dict = {"instance": broken, "part": part}
    if domain and selector:
        facts["key_name"] = f"{selector}._domainkey.{domain}".lower()
    if entry.get("body_intact") is not None:
        facts["body_intact"] = entry["body_intact"]
    return facts


def _key_names(results: list[dict]) -> list[str]:
    """Return the key names of the AMS and AS of each verified instance (already in the KeyStore), each once."""
    names = []
    for entry in results:
        for prefix in ("ams", "as"):
            domain, selector = _text(entry.get(f"{prefix}-domain")), _text(entry.get(f"{prefix}-selector"))
            name = f"{selector}._domainkey.{domain}".lower() if domain and selector else None
            # A hop usually seals and signs with the same key, so the AMS and AS share a name.
            if name and name not in names:
                names.append(name)
    return names
