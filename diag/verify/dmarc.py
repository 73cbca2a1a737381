"""Evaluate DMARC (RFC 7489) from our own SPF and DKIM results: record discovery and alignment.

authheaders also evaluates DMARC, but (0.16.3) its get_org_domain parses the whole public
suffix list on every call: about 40 ms a call measured on a 2-core x86_64 machine, and a
message needs several. Alignment here uses diag.facts.orgdomain, which loads the list once
per process.
"""

import logging

from diag.dns.resolver import OK, Resolver
from diag.dnscheck.dmarc import dmarc_records, split_tags
from diag.facts.orgdomain import aligned, org_domain

log = logging.getLogger(__name__)


def discover(resolver: Resolver, from_domain: str) -> dict:
    """Find the DMARC record for `from_domain` (RFC 7489 section 6.6.3).

    Return {status, record, record_domain, tags}: status is `found`, `none` or `temperror`.
    The organisational domain is asked only when the From domain has no record.
    """
    names = [from_domain]
    organisational = org_domain(from_domain)
    if organisational and organisational != from_domain:
        names.append(organisational)

    for domain in names:
        answer = resolver.query(f"_dmarc.{domain}", "TXT")
        if answer.temporary:
            return {"status": "temperror", "record_domain": domain, "detail": f"_dmarc.{domain} TXT: {answer.status}"}
        records = dmarc_records(answer.records) if answer.status == OK else []
        if len(records) > 1:
            # Section 6.6.3 step 5: more than one record means no DMARC policy applies.
            return {"status": "none", "record_domain": domain, "detail": f"_dmarc.{domain} has {len(records)} DMARC records, so none applies"}
        if records:
            tags, _errors = split_tags(records[0])
            return {"status": "found", "record": records[0], "record_domain": domain, "tags": tags}
    found = {"status": "none", "detail": f"no DMARC record at {' or '.join('_dmarc.' + name for name in names)}"}
    misplaced = _misplaced(resolver, from_domain)
    if misplaced:
        found["misplaced"] = misplaced
    return found


def _misplaced(resolver: Resolver, from_domain: str) -> dict | None:
    """Look for a DMARC record published at a name receivers never ask.

    DNS panels that append the zone name turn `_dmarc.example.com` into
    `_dmarc.example.com.example.com`; some senders publish the record at the domain itself.
    """
    for name in (f"_dmarc.{from_domain}.{from_domain}", from_domain):
        answer = resolver.query(name, "TXT")
        records = dmarc_records(answer.records) if answer.status == OK else []
        if records:
            return {"name": name, "record": records[0]}
    return None


def evaluate(resolver: Resolver, from_domain: str | None, spf: dict | None, signatures: list[dict]) -> dict | None:
    """Return {result, policy, spf_aligned, dkim_aligned, record, ...} or None without a From domain."""
    if not from_domain:
        return None
    found = discover(resolver, from_domain)
    fact: dict = {"from_domain": from_domain}
    if found.get("record"):
        fact["record"] = found["record"]
        fact["record_domain"] = found["record_domain"]
    if found.get("detail"):
        fact["detail"] = found["detail"]
    if found.get("misplaced"):
        fact["misplaced_record"] = found["misplaced"]

    tags = found.get("tags", {})
    strict_dkim = tags.get("adkim", "r").lower() == "s"
    strict_spf = tags.get("aspf", "r").lower() == "s"
    fact["adkim"] = "s" if strict_dkim else "r"
    fact["aspf"] = "s" if strict_spf else "r"

    # Section 3.1: an identifier aligns only through a passing check.
    spf_domain = (spf or {}).get("mailfrom_domain")
    fact["spf_aligned"] = bool(spf and spf.get("mailfrom_result") == "pass" and aligned(spf_domain, from_domain, strict=strict_spf))
    aligned_signatures = [entry["index"] for entry in signatures if entry.get("result") == "pass" and aligned(entry.get("d"), from_domain, strict=strict_dkim)]
    fact["dkim_aligned"] = bool(aligned_signatures)
    if aligned_signatures:
        fact["dkim_aligned_signatures"] = aligned_signatures
    # Aligned signatures whatever their result: with none, the message carries no signature
    # DMARC could use; with some and no pass, an aligned signature broke.
    fact["dkim_aligned_present"] = any(aligned(entry.get("d"), from_domain, strict=strict_dkim) for entry in signatures)

    if found["status"] == "temperror":
        fact["result"] = "temperror"
        return fact
    if found["status"] == "none":
        fact["result"] = "none"
        return fact

    # Section 6.6.3: sp= applies when the record was found at the organisational domain.
    policy = tags.get("p", "").lower() or None
    if found["record_domain"] != from_domain and tags.get("sp"):
        policy = tags["sp"].lower()
    fact["policy"] = policy
    if fact["spf_aligned"] or fact["dkim_aligned"]:
        fact["result"] = "pass"
    elif _aligned_temperror(from_domain, spf, signatures, strict_spf=strict_spf, strict_dkim=strict_dkim):
        # An aligned identifier that could not be checked may have passed, so calling the
        # result fail would blame the sender for a lookup that timed out.
        fact["result"] = "temperror"
        fact["detail"] = "an aligned SPF or DKIM check failed temporarily, so DMARC cannot be judged"
    else:
        fact["result"] = "fail"
    return fact


def _aligned_temperror(from_domain: str, spf: dict | None, signatures: list[dict], *, strict_spf: bool, strict_dkim: bool) -> bool:
    """Tell whether an aligned SPF or DKIM check ended in temperror."""
    if spf and spf.get("mailfrom_result") == "temperror" and aligned(spf.get("mailfrom_domain"), from_domain, strict=strict_spf):
        return True
    return any(entry.get("result") == "temperror" and aligned(entry.get("d"), from_domain, strict=strict_dkim) for entry in signatures)
