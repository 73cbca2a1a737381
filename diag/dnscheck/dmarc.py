"""DMARC record posture (RFC 7489): discovery with the organisational-domain fallback,
one record, valid tags, the policy, the record to publish next, and authorisation of
external report destinations.

The record is validated by diag.dnscheck.dmarcrecord, whose docstring gives the measurements
behind checking RFC 7489 here instead of calling checkdmarc at run time.
"""

import logging

from diag.dns.resolver import OK
from diag.dnscheck.dmarcadvice import at_least_record, corrected_record, merged_record, starter_record, stronger_record
from diag.dnscheck.dmarcrecord import POLICY_RANK, ParsedRecord, dmarc_records, is_dmarc_record, parse_record, split_tags
from diag.dnscheck.evidence import evidence
from diag.facts.orgdomain import org_domain

log = logging.getLogger(__name__)

# Re-exported: diag.verify.dmarc reads records through this module.
__all__ = ["POLICY_RANK", "check_dmarc", "dmarc_records", "is_dmarc_record", "lookup_policy", "report_destinations", "split_tags"]


def lookup_policy(resolver, domain: str) -> dict:
    """Discover the DMARC record for `domain` (RFC 7489 section 6.6.3, steps 1 to 5)."""
    answer = resolver.query(f"_dmarc.{domain}", "TXT")
    found = dmarc_records(answer.records) if answer.status == OK else []
    discovery = {"queries": [evidence(answer)], "policy_domain": domain, "records": found, "answer": answer}
    if answer.temporary or found:
        return discovery

    # Step 3: with no record at the From domain, ask at the organisational domain.
    organisational = org_domain(domain)
    if organisational and organisational != domain:
        fallback = resolver.query(f"_dmarc.{organisational}", "TXT")
        discovery["queries"].append(evidence(fallback))
        discovery["policy_domain"] = organisational
        discovery["records"] = dmarc_records(fallback.records) if fallback.status == OK else []
        discovery["answer"] = fallback
    return discovery


def report_destinations(resolver, policy_domain: str, parsed: ParsedRecord) -> list[dict]:
    """Check that external rua/ruf destinations accept reports (RFC 7489 section 7.1)."""
    destinations = []
    for tag in ("rua", "ruf"):
        for uri in getattr(parsed, tag):
            host = uri.host
            if uri.scheme != "mailto" or org_domain(host) == org_domain(policy_domain):
                continue

            name = f"{policy_domain}._report._dmarc.{host}"
            answer = resolver.query(name, "TXT")
            if answer.temporary:
                authorised = "temperror"
            else:
                # DNS synthesises a wildcard record (*._report._dmarc.HOST) for this name
                # (RFC 4592), so a wildcard authorisation needs no query of its own.
                authorised = answer.status == OK and any(is_dmarc_record(record) for record in answer.records)
            destinations.append(
                {
                    "tag": tag,
                    "uri": uri.uri,
                    "host": host,
                    "authorised": authorised,
                    "query": evidence(answer),
                    "fix_record": f'{name}. TXT "v=DMARC1"',
                }
            )
    return destinations


def _txt(name: str, value: str | None) -> str | None:
    return f'{name}. TXT "{value}"' if value else None


def check_dmarc(resolver, domain: str, min_policy: str | None = None) -> dict:
    """Check the DMARC posture of `domain`; return the fact for `dns.dmarc`.

    `suggested_record` is the record to publish next, as `NAME. TXT "VALUE"`: a first
    record when there is none, the one record to keep when there are several, the record
    with its errors removed when it is invalid, and otherwise the next, stronger step.
    """
    discovery = lookup_policy(resolver, domain)
    answer = discovery["answer"]
    policy_domain = discovery["policy_domain"]
    record_name = f"_dmarc.{policy_domain}"
    fact = {
        "domain": domain,
        "policy_domain": policy_domain,
        "queries": discovery["queries"],
        "records": discovery["records"],
        "record_count": len(discovery["records"]),
    }
    if min_policy:
        fact["min_policy"] = min_policy

    if answer.temporary:
        fact["status"] = "temperror"
        return fact
    if not discovery["records"]:
        fact["status"] = "none"
        fact["suggested_record"] = _txt(f"_dmarc.{domain}", starter_record(domain, min_policy))
        return fact
    if len(discovery["records"]) > 1:
        # RFC 7489 section 6.6.3 step 5: several records end discovery; no policy applies.
        fact["status"] = "permerror"
        fact["error"] = f"{len(discovery['records'])} DMARC records at {record_name}; publish exactly one"
        fact["suggested_record"] = _txt(record_name, merged_record([parse_record(record) for record in discovery["records"]]))
        return fact

    record = discovery["records"][0]
    parsed = parse_record(record)
    policy = parsed.policy
    subdomain_policy = parsed.subdomain_policy
    inherited = policy_domain != domain
    fact.update(
        {
            "status": "permerror" if parsed.errors else "ok",
            "record": record,
            "tags": parsed.tags,
            "p": policy,
            "sp": subdomain_policy,
            # The policy that applies to mail from `domain` itself: sp when the record came
            # from the organisational domain (RFC 7489 section 6.6.3 step 6).
            "effective_policy": subdomain_policy if inherited else policy,
            "pct": parsed.percent if "pct" in parsed.valid or "pct" not in parsed.tags else None,
            "adkim": parsed.tags["adkim"].lower() if "adkim" in parsed.valid else "r",
            "aspf": parsed.tags["aspf"].lower() if "aspf" in parsed.valid else "r",
            "rua": [uri.uri for uri in parsed.rua],
            "ruf": [uri.uri for uri in parsed.ruf],
            "syntax_errors": parsed.errors,
            "warnings": parsed.warnings,
            "destinations": report_destinations(resolver, policy_domain, parsed),
        }
    )
    fact["unauthorised_destinations"] = [item for item in fact["destinations"] if item["authorised"] is False]

    effective = fact["effective_policy"]
    if min_policy and effective in POLICY_RANK:
        fact["below_min_policy"] = POLICY_RANK[effective] < POLICY_RANK[min_policy]
        if fact["below_min_policy"]:
            fact["min_policy_record"] = _txt(record_name, at_least_record(parsed, min_policy))
    fact["next_policy"] = {"none": "quarantine", "quarantine": "reject"}.get(effective)

    if parsed.errors:
        fact["suggested_record"] = _txt(record_name, corrected_record(parsed))
    else:
        governing_tag = "sp" if inherited and "sp" in parsed.tags else "p"
        fact["suggested_record"] = _txt(record_name, stronger_record(parsed, governing_tag))
    return fact
