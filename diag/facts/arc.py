"""Read the ARC sets of a message (RFC 8617) from their header fields, without crypto.

Each ARC set is an ARC-Seal (AS), an ARC-Message-Signature (AMS) and an
ARC-Authentication-Results (AAR) with the same instance i=. The chain is broken when an
ARC-Seal carries cv=fail or when the trusted Authentication-Results reports arc=fail.
Structural faults that RFC 8617 makes a validator reject (a missing or repeated member,
a gap in the instances, cv other than none on i=1) are listed in `arc.structure_errors`.
Signatures are checked only in verify/.

Two facts tell a forwarder's damage from a sender's fault (RFC 8617, RFC 7960):
`arc.chain_pass`, the receiver's ARC verdict, and `arc.first_hop`, the results the first
intermediary recorded in its ARC-Authentication-Results i=1 before it changed the message.
They are claims of the sealers, trusted only as far as the receiver's arc=pass vouches for
the chain.
"""

import logging
from operator import attrgetter

from diag.facts import authres, dkimsig, orgdomain, trust
from diag.messages.model import Header, fields_by_name

log = logging.getLogger(__name__)

_MEMBERS = {"arc-seal": "seal", "arc-message-signature": "message", "arc-authentication-results": "results"}
# RFC 8617 limits a chain to 50 sets (instance values 1 to 50).
MAX_INSTANCE = 50


def _instance(tags: dict[str, str]) -> int | None:
    """Return the i= tag as a number, or None when it is missing or not a number."""
    text = tags.get("i", "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _first_hop(results_header: Header, parsed: dict, seal_d: str | None, from_domain: str | None) -> dict:
    """Summarise the ARC-Authentication-Results of instance 1: what the first intermediary saw.

    Alignment is judged against the header.from of the first hop's dmarc clause, which is
    the From domain that hop saw. A list may have rewritten From since. Without that clause,
    the From domain of the message as delivered is used.
    """
    # The clauses belong to auth.headers too, so summarise must only read them, as it does.
    clauses = parsed["results"]
    dmarc = next((result for result in clauses if result["method"] == "dmarc"), None)
    if dmarc is not None:
        from_domain = trust.property_domain(dmarc["properties"].get("header.from")) or from_domain
    summary = trust.summarise(clauses, from_domain)

    hop: dict = {"instance": 1, "authserv_id": parsed["authserv_id"], "position": results_header.position}
    if seal_d:
        hop["sealer"] = seal_d
    for key in ("spf", "spf_domain", "spf_aligned", "dmarc", "dmarc_policy", "header_from"):
        if key in summary:
            hop[key] = summary[key]
    hop["dkim"] = [{"domain": entry["domain"], "result": entry["result"], "aligned": entry["aligned"]} for entry in summary["dkim"]]
    hop["dkim_aligned_pass"] = summary["dkim_aligned_pass"]
    hop["spf_aligned_pass"] = summary.get("spf") == "pass" and summary.get("spf_aligned") is True
    # The dmarc clause is the first hop's own verdict; without one, an aligned pass is what
    # DMARC would have needed (RFC 7489 section 4.2).
    if "dmarc" in summary:
        hop["from_authenticated"] = summary["dmarc"] == "pass"
    else:
        hop["from_authenticated"] = hop["dkim_aligned_pass"] or hop["spf_aligned_pass"]
    return hop


def _chain_pass(sets: list[dict], results_by_instance: dict[int, dict], verdicts: dict,
                trusted: dict | None, sealed_fail: bool) -> tuple[bool | None, str | None]:
    """Return (chain passed, source) from the receiver's view of the chain, or (None, None).

    An ARC-Seal with cv=fail means the chain was broken there, whatever later hops claim
    (RFC 8617 section 4.4). Otherwise the receiver's arc= clause, the result of its own
    validation (section 5.2), decides. Without one, the newest ARC-Authentication-Results
    counts when the receiver's own domain sealed it, because receivers such as Gmail seal on
    arrival and record there the result of validating the chain.
    """
    if sealed_fail:
        return False, "arc-seal"
    if verdicts.get("arc") in ("pass", "fail"):
        return verdicts["arc"] == "pass", "authentication-results"
    if not sets or not trusted or not trusted.get("authserv_id"):
        return None, None

    newest = sets[-1]
    receiver = orgdomain.org_domain(trusted["authserv_id"])
    parsed = results_by_instance.get(newest["instance"])
    if parsed is None or receiver is None or orgdomain.org_domain(newest.get("seal_d")) != receiver:
        return None, None
    verdict = next((result["result"] for result in parsed["results"] if result["method"] == "arc"), None)
    if verdict in ("pass", "fail"):
        return verdict == "pass", f"arc-authentication-results i={newest['instance']}"
    return None, None


def collect(
    headers: list[Header],
    verdicts: dict,
    from_domain: str | None = None,
    trusted: dict | None = None,
    auth_headers: list[dict] | None = None,
) -> dict:
    """Return arc.sets, arc.broken, arc.broken_instance, arc.structure_errors, arc.chain_pass
    and arc.first_hop.

    `from_domain` is the From domain of the message, and `trusted` is auth.trusted, which
    names the receiver. `auth_headers` is auth.headers from facts/authres, whose parsed
    ARC-Authentication-Results are used as they are. Without it they are parsed here.
    """
    # Each member is kept with its tags, which are parsed once. An ARC-Authentication-Results
    # keeps the tags of its first clause, where RFC 8617 section 4.1.1 puts i=, because the
    # rest is Authentication-Results syntax.
    by_name = fields_by_name(headers)
    arc_fields = [header for name in _MEMBERS for header in by_name.get(name, ())]
    # Top first, so that errors come in header order.
    arc_fields.sort(key=attrgetter("position"))
    members: dict[int, dict[str, list[tuple[Header, dict]]]] = {}
    errors = []
    for header in arc_fields:
        member = _MEMBERS[header.lowered_name]
        value = header.unfolded
        if member == "results":
            value = value.split(";", 1)[0]
        tags, _ = dkimsig.parse_tag_list(value)
        instance = _instance(tags)
        if instance is None:
            errors.append(f"{header.name} at position {header.position} has no valid i= tag")
            continue
        members.setdefault(instance, {}).setdefault(member, []).append((header, tags))

    if not members and verdicts.get("arc") is None:
        return {}

    # facts/authres has parsed every ARC-Authentication-Results, and its entry carries the
    # authserv_id and results that parse_value returns.
    parsed_by_position = {
        entry["position"]: entry
        for entry in auth_headers or ()
        if entry["field"].lower() == "arc-authentication-results"
    }

    sets = []
    # The parsed ARC-Authentication-Results of each instance, read once for the sets, the
    # chain verdict and the first hop.
    parsed_results: dict[int, dict] = {}
    for instance in sorted(members):
        found = members[instance]
        entry: dict = {"instance": instance}
        for member in ("seal", "message", "results"):
            count = len(found.get(member, []))
            if count != 1:
                errors.append(f"ARC instance {instance} has {count} {member} header fields, expected 1")

        if found.get("seal"):
            tags = found["seal"][0][1]
            entry["cv"] = tags.get("cv", "").lower() or None
            entry["seal_d"] = tags.get("d", "").lower() or None
            entry["seal_s"] = tags.get("s") or None
        if found.get("message"):
            tags = found["message"][0][1]
            entry["message_d"] = tags.get("d", "").lower() or None
            entry["message_s"] = tags.get("s") or None
        if found.get("results"):
            results_header = found["results"][0][0]
            parsed = parsed_by_position.get(results_header.position)
            if parsed is None:
                parsed = authres.parse_value(results_header.unfolded, arc=True)
            parsed_results[instance] = parsed
            entry["authserv_id"] = parsed["authserv_id"]
        entry["positions"] = sorted(header.position for group in found.values() for header, _ in group)
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

    results_by_instance = {
        instance: parsed_results[instance] for instance, found in members.items() if len(found.get("results", [])) == 1
    }
    chain_pass, source = _chain_pass(sets, results_by_instance, verdicts, trusted, bool(failed))
    if chain_pass is not None:
        facts["chain_pass"] = chain_pass
        facts["chain_pass_source"] = source
    if 1 in results_by_instance:
        first_seal = sets[0].get("seal_d") if sets and sets[0]["instance"] == 1 else None
        first_results = members[1]["results"][0][0]
        facts["first_hop"] = _first_hop(
            first_results, results_by_instance[1], first_seal, orgdomain.normalise(from_domain)
        )

    if errors:
        facts["structure_errors"] = errors
        log.debug("ARC structure: %s", "; ".join(errors))
    return facts
