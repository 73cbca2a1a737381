"""Read the ARC sets of a message (RFC 8617) from their header fields, without crypto.

Each ARC set is an ARC-Seal (AS), an ARC-Message-Signature (AMS) and an
ARC-Authentication-Results (AAR) with the same instance i=. The chain is broken when an
ARC-Seal carries cv=fail or when the trusted Authentication-Results reports arc=fail.
Structural faults that RFC 8617 makes a validator reject (a missing or repeated member,
a gap in the instances, cv other than none on i=1) are listed in `arc.structure_errors`.
Signatures are checked only in verify/.
"""

import logging

from diag.facts import authres, dkimsig
from diag.messages.model import Header

log = logging.getLogger(__name__)

_MEMBERS = {"arc-seal": "seal", "arc-message-signature": "message", "arc-authentication-results": "results"}
# RFC 8617 limits a chain to 50 sets (instance values 1 to 50).
MAX_INSTANCE = 50


def _instance(member: str, value: str) -> int | None:
    """Return the i= tag: the first clause of an AAR (RFC 8617 section 4.1.1), any tag of
    an AS or AMS, whose tags may come in any order."""
    if member == "results":
        value = value.split(";", 1)[0]
    tags, _ = dkimsig.parse_tag_list(value)
    text = tags.get("i", "").strip()
    return int(text) if text.isdigit() else None


def collect(headers: list[Header], verdicts: dict) -> dict:
    """Return arc.sets, arc.broken, arc.broken_instance and arc.structure_errors."""
    members: dict[int, dict[str, list[Header]]] = {}
    errors = []
    for header in headers:
        member = _MEMBERS.get(header.name.lower())
        if member is None:
            continue
        instance = _instance(member, header.unfolded)
        if instance is None:
            errors.append(f"{header.name} at position {header.position} has no valid i= tag")
            continue
        members.setdefault(instance, {}).setdefault(member, []).append(header)

    if not members and verdicts.get("arc") is None:
        return {}

    sets = []
    for instance in sorted(members):
        found = members[instance]
        entry: dict = {"instance": instance}
        for member in ("seal", "message", "results"):
            count = len(found.get(member, []))
            if count != 1:
                errors.append(f"ARC instance {instance} has {count} {member} header fields, expected 1")

        if found.get("seal"):
            tags, _ = dkimsig.parse_tag_list(found["seal"][0].unfolded)
            entry["cv"] = tags.get("cv", "").lower() or None
            entry["seal_d"] = tags.get("d", "").lower() or None
            entry["seal_s"] = tags.get("s") or None
        if found.get("message"):
            tags, _ = dkimsig.parse_tag_list(found["message"][0].unfolded)
            entry["message_d"] = tags.get("d", "").lower() or None
            entry["message_s"] = tags.get("s") or None
        if found.get("results"):
            parsed = authres.parse_cached(found["results"][0].unfolded, arc=True)
            entry["authserv_id"] = parsed["authserv_id"]
        entry["positions"] = sorted(header.position for group in found.values() for header in group)
        sets.append(entry)

    instances = [entry["instance"] for entry in sets]
    if instances and instances != list(range(1, len(instances) + 1)):
        errors.append(f"ARC instances {instances} are not 1..{len(instances)} without gaps")
    if instances and instances[-1] > MAX_INSTANCE:
        errors.append(f"ARC instance {instances[-1]} exceeds the limit of {MAX_INSTANCE}")
    if sets and sets[0]["instance"] == 1 and sets[0].get("cv") not in (None, "none"):
        errors.append(f"ARC-Seal i=1 has cv={sets[0]['cv']}, expected cv=none")

    failed = [entry["instance"] for entry in sets if entry.get("cv") == "fail"]
    facts: dict = {
        "sets": sets,
        "broken": bool(failed) or verdicts.get("arc") == "fail",
    }
    if failed:
        facts["broken_instance"] = min(failed)
    if errors:
        facts["structure_errors"] = errors
        log.debug("ARC structure: %s", "; ".join(errors))
    return facts
