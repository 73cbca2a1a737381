"""Choose the receiving system's own Authentication-Results and derive the verdicts.

RFC 8601 section 5: an Authentication-Results field is trusted only when it carries the
authserv-id of the receiving system, and fields with that id that arrived from upstream
are not. This module picks:

1. the authserv-id: the one given with --authserv-id, else the id of the topmost
   Authentication-Results. Microsoft 365 writes none, so a topmost field without an id
   selects the id-less fields (`how: microsoft`);
2. the block: the topmost field with that id and every field with the same id below it,
   up to the first Received header. Receivers prepend their results next to the
   Received header of the hop, and filters (milters) that each write their own field
   split one hop's results over several fields. A Received header after the block starts
   marks an earlier hop. Same-id fields below it come from an earlier pass through the
   same system, such as a mailing list's ingress check before it re-sent the message.
   They are listed as `earlier_positions` and not used;
3. the verdicts: the fields of the block merged, the topmost one winning per method,
   and per DKIM signature for dkim clauses.

ARC-Authentication-Results never give verdicts here: they are an intermediary's claims
(RFC 8617 section 4.1.1) and are read by facts/arc.
"""

import logging

from diag.facts import esp, orgdomain, tables
from diag.messages.model import Header, fields_by_name

log = logging.getLogger(__name__)

_RESULT_RANK = {"pass": 0}
_POLICY_PROPERTIES = ("policy.dmarc", "policy.published-domain-policy")
_POLICY_WORDS = {"none", "quarantine", "reject"}


def _block(auth_headers: list[dict], headers: list[Header], authserv_id: str | None, how: str):
    """Return (trusted A-R entries top first, positions of same-id A-Rs from earlier hops)."""
    same_id = [entry for entry in auth_headers if entry["authserv_id"] == authserv_id]
    if len(same_id) == 1:
        # The usual case: one field with the id, which is the block whatever lies below it.
        return same_id, []
    start = same_id[0]["position"]
    received = fields_by_name(headers).get("received", ())
    stop = next((header.position for header in received if header.position > start), None)

    block = [entry for entry in same_id if stop is None or entry["position"] < stop]
    earlier = [entry["position"] for entry in same_id if stop is not None and entry["position"] > stop]
    if earlier:
        log.debug("authserv-id %s (%s): ignoring A-R at %s below Received at %s", authserv_id, how, earlier, stop)
    return block, earlier


def _clean_domain(value: str | None) -> str | None:
    """Return the domain of a property value: the part after "@" of an address, lower-case."""
    if not value:
        return None
    value = value.strip().strip("<>").strip('"')
    if "@" in value:
        value = value.rpartition("@")[2]
    return orgdomain.normalise(value)


def _dkim_key(result: dict) -> tuple:
    """Identify the signature a dkim clause is about: domain plus header.b, else selector."""
    properties = result["properties"]
    return (_dkim_domain(result), properties.get("header.b") or properties.get("header.s") or "")


def _dkim_domain(result: dict) -> str | None:
    """Return the signing domain of a dkim clause, or None when the clause names none.

    Microsoft 365 writes `dkim=none (message not signed) header.d=none` for an unsigned
    message. "none" there is a placeholder, not a domain, so it is read as no domain.
    """
    properties = result["properties"]
    for key in ("header.d", "header.i"):
        domain = _clean_domain(properties.get(key))
        if domain and domain != "none":
            return domain
    return None


def _merge(block: list[dict]) -> list[dict]:
    """Merge the clauses of the block: the topmost field wins per method (per signature
    for dkim); clauses of one field are all kept, duplicates included."""
    if len(block) == 1:
        return block[0]["results"]

    merged = []
    claimed_methods: set = set()
    claimed_signatures: set = set()
    for entry in block:
        methods_here: set = set()
        signatures_here: set = set()
        for result in entry["results"]:
            method = result["method"]
            if method == "dkim":
                key = _dkim_key(result)
                if key in claimed_signatures:
                    continue
                signatures_here.add(key)
            elif method in claimed_methods:
                continue
            methods_here.add(method)
            merged.append(result)
        claimed_methods |= methods_here - {"dkim"}
        claimed_signatures |= signatures_here
    return merged


def _match_signature(domain: str | None, result: dict, signatures: list[dict], used: set) -> int | None:
    """Return the index of the DKIM-Signature a dkim clause reports on, or None.

    Receivers often write only the first 8 characters of header.b (RFC 6008), so it is
    compared as a prefix. Without header.b the selector decides. A signature
    already matched by another clause is taken only when no other one fits (two
    byte-identical signatures give two identical clauses).
    """
    prefix = (result["properties"].get("header.b") or "").replace(" ", "")
    selector = (result["properties"].get("header.s") or "").lower()
    candidates = []
    for index, signature in enumerate(signatures):
        if domain is None or signature.get("d") != domain:
            continue
        if prefix and not signature.get("b", "").startswith(prefix):
            continue
        if not prefix and selector and signature.get("s", "").lower() != selector:
            continue
        candidates.append(index)
    unused = [index for index in candidates if index not in used]
    if unused:
        return unused[0]
    return candidates[0] if candidates else None


def _aligned(domain: str | None, from_org: str | None) -> bool:
    """Tell whether a normalised domain aligns in relaxed mode with the From domain, given
    the From domain's organisational domain (as orgdomain.aligned, which would look that
    up again for every identifier)."""
    return from_org is not None and domain is not None and orgdomain.org_domain(domain) == from_org


def _dkim_verdicts(clauses: list[dict], from_org: str | None, signatures: list[dict]) -> list[dict]:
    entries = []
    used: set = set()
    for result in clauses:
        properties = result["properties"]
        domain = _dkim_domain(result)
        entry = {
            "domain": domain,
            "selector": properties.get("header.s"),
            "result": result["result"],
            "reason": result.get("reason"),
            "b": properties.get("header.b"),
            "aligned": _aligned(domain, from_org),
            "esp": esp.provider_of(domain),
        }
        algorithm = properties.get("header.a")
        if algorithm:
            entry["algorithm"] = algorithm.lower()
        # Receivers put the failure detail in the clause comment or in a comment after
        # reason= or a property ("(body hash did not verify)"); keep every one of them.
        comments = [result["comment"]] if result.get("comment") else []
        property_comments = result.get("property_comments")
        if property_comments:
            comments.extend(property_comments.values())
        if comments:
            entry["comment"] = "; ".join(comments)
        signature = _match_signature(domain, result, signatures, used) if signatures else None
        if signature is not None:
            entry["signature"] = signature
            used.add(signature)
        entries.append(entry)
    return entries


def _spf_clause(spf: list[dict]) -> tuple[dict | None, str | None]:
    """Pick the SPF verdict among the spf clauses: the clause for smtp.mailfrom.

    A clause with only smtp.helo is used when no MAIL FROM clause exists, because for a
    null reverse-path RFC 7208 section 2.4 makes the HELO identity the one checked. The
    identity is returned so that rules can tell the two apart.
    """
    for result in spf:
        if "smtp.mailfrom" in result["properties"]:
            return result, "mailfrom"
    for result in spf:
        if "smtp.helo" in result["properties"]:
            return result, "helo"
    return (spf[0], None) if spf else (None, None)


def _dmarc_policy(result: dict) -> str | None:
    """Read the published policy: a policy.* property, else p= or policy= in the comment
    (`(p=REJECT sp=REJECT dis=NONE)` from Gmail and OpenDMARC, `(policy=reject)` from rspamd)."""
    for key in _POLICY_PROPERTIES:
        value = (result["properties"].get(key) or "").lower()
        if value in _POLICY_WORDS:
            return value
    for word in (result.get("comment") or "").replace(";", " ").split():
        key, _, value = word.partition("=")
        if key.lower() in ("p", "policy") and value.lower() in _POLICY_WORDS:
            return value.lower()
    return None


def _verdicts(clauses: list[dict], from_domain: str | None, signatures: list[dict]) -> dict:
    verdicts: dict = {}

    # One pass groups the clauses by method, in their order. Each verdict below reads its group.
    by_method: dict[str, list[dict]] = {}
    for result in clauses:
        group = by_method.get(result["method"])
        if group is None:
            by_method[result["method"]] = [result]
        else:
            group.append(result)

    dmarc_clauses = by_method.get("dmarc")
    if dmarc_clauses:
        dmarc = dmarc_clauses[0]
        verdicts["dmarc"] = dmarc["result"]
        policy = _dmarc_policy(dmarc)
        if policy:
            verdicts["dmarc_policy"] = policy
        if dmarc["properties"].get("action"):
            verdicts["dmarc_action"] = dmarc["properties"]["action"].lower()
        header_from = _clean_domain(dmarc["properties"].get("header.from"))
        if header_from:
            verdicts["header_from"] = header_from

    # Without a From header (a pasted A-R alone) the DMARC clause's header.from is the
    # best available From domain. `from_domain_source` records which one was used.
    if from_domain:
        verdicts["from_domain_source"] = "from"
    elif verdicts.get("header_from"):
        from_domain = verdicts["header_from"]
        verdicts["from_domain_source"] = "header.from"
    from_org = orgdomain.org_domain(from_domain)

    spf, identity = _spf_clause(by_method.get("spf", ()))
    if spf is not None:
        verdicts["spf"] = spf["result"]
        if identity:
            verdicts["spf_identity"] = identity
        spf_domain = _clean_domain(spf["properties"].get(f"smtp.{identity}")) if identity else None
        if spf_domain:
            verdicts["spf_domain"] = spf_domain
            if from_domain:
                verdicts["spf_aligned"] = _aligned(spf_domain, from_org)

    # NOTE: alignment is relaxed (RFC 7489 section 3.1) because headers do not show the
    # DMARC record's adkim and aspf tags. Under strict alignment DMARC can fail where this passes.
    dkim = _dkim_verdicts(by_method.get("dkim", ()), from_org, signatures)
    verdicts["dkim"] = dkim
    signed = aligned_pass = esp_pass = False
    aligned_result = None
    for entry in dkim:
        # RFC 8601 section 2.7.1: dkim=none means the message was not signed, so a clause
        # with any other result reports on a signature.
        signed = signed or entry["result"] != "none"
        if entry["aligned"]:
            aligned_pass = aligned_pass or entry["result"] == "pass"
            # A pass among the aligned signatures wins, else the first aligned one counts.
            if aligned_result is None or entry["result"] == "pass" and aligned_result != "pass":
                aligned_result = entry["result"]
        elif entry["esp"] and entry["result"] == "pass":
            esp_pass = True
    if dkim:
        verdicts["dkim_signed"] = signed
    verdicts["dkim_aligned_pass"] = aligned_pass
    verdicts["dkim_esp_pass"] = esp_pass
    if aligned_result is not None:
        verdicts["dkim_aligned_result"] = aligned_result

    compauth_clauses = by_method.get("compauth")
    if compauth_clauses:
        compauth = compauth_clauses[0]
        verdicts["compauth"] = compauth["result"]
        reason = compauth.get("reason")
        if reason:
            verdicts["compauth_reason"] = reason
            verdicts["compauth_decoded"] = tables.decode_compauth(reason)

    arc_clauses = by_method.get("arc")
    if arc_clauses:
        verdicts["arc"] = arc_clauses[0]["result"]
    return verdicts


def property_domain(value: str | None) -> str | None:
    """Return the domain of a property value such as header.from or smtp.mailfrom."""
    return _clean_domain(value)


def summarise(clauses: list[dict], from_domain: str | None) -> dict:
    """Derive verdicts from the clauses of one hop's results, without DKIM-Signature matching.

    facts/arc uses it for the ARC-Authentication-Results of the first intermediary.
    """
    return _verdicts(clauses, orgdomain.normalise(from_domain), [])


def select(
    auth_headers: list[dict],
    headers: list[Header],
    from_domain: str | None,
    dkim_signatures: list[dict],
    authserv_id: str | None = None,
) -> tuple[dict | None, dict]:
    """Return (auth.trusted, verdicts) for one message; (None, {}) when nothing is trusted."""
    results_headers = [entry for entry in auth_headers if entry["field"].lower() == "authentication-results"]
    if not results_headers:
        return None, {}

    if authserv_id is not None:
        selected_id = authserv_id.strip().lower()
        how = "--authserv-id"
        if not any(entry["authserv_id"] == selected_id for entry in results_headers):
            log.info("no Authentication-Results with authserv-id %s; found %s", selected_id,
                     sorted({str(entry["authserv_id"]) for entry in results_headers}))
            return None, {}
    else:
        selected_id = results_headers[0]["authserv_id"]
        how = "microsoft" if selected_id is None else "topmost"

    block, earlier = _block(results_headers, headers, selected_id, how)
    trusted = {
        "authserv_id": selected_id,
        "positions": [entry["position"] for entry in block],
        "raw": [entry["raw"] for entry in block],
        "how": how,
    }
    if earlier:
        trusted["earlier_positions"] = earlier

    clauses = _merge(block)
    return trusted, _verdicts(clauses, orgdomain.normalise(from_domain), dkim_signatures)
