"""DMARC record posture (RFC 7489): discovery with the organisational-domain fallback,
one record, valid tags, the policy, and authorisation of external report destinations.

checkdmarc (6.0.4) validates the record's grammar and tag values. Its report-destination
checks query DNS, so it is given an adapter that sends those queries through our
Resolver (see `_CheckdmarcResolver`); the authorisation facts themselves are gathered here,
because checkdmarc turns a SERVFAIL into "not authorised".
"""

import logging
import re

from diag.dns.resolver import NODATA, NXDOMAIN, OK
from diag.dnscheck.evidence import evidence
from diag.facts.orgdomain import org_domain

log = logging.getLogger(__name__)

# RFC 7489 section 6.3 (ABNF): "v" is a case-insensitive literal, "DMARC1" is matched exactly.
_VERSION = re.compile(r"^[vV][ \t]*=[ \t]*DMARC1[ \t]*(?:;|$)")
# RFC 7489 section 6.4: dmarc-sep = *WSP %x3b *WSP
_SEPARATOR = re.compile(r"[ \t]*;[ \t]*")
POLICY_RANK = {"none": 0, "quarantine": 1, "reject": 2}


def is_dmarc_record(text: str) -> bool:
    return bool(_VERSION.match(text))


def dmarc_records(records) -> list[str]:
    return [record for record in records if is_dmarc_record(record)]


def split_tags(record: str) -> tuple[dict, list[str]]:
    """Split a record into lower-case tag names and values; return (tags, errors).

    No space after a semicolon and no final semicolon are both valid (RFC 7489 section 6.4).
    """
    tags, errors = {}, []
    for part in _SEPARATOR.split(record.strip()):
        if not part:
            continue
        name, equals, value = part.partition("=")
        name = name.strip().lower()
        if not equals or not name:
            errors.append(f"{part!r} is not a tag=value pair (RFC 7489 section 6.4)")
            continue
        if name in tags:
            errors.append(f"tag {name} appears more than once")
            continue
        tags[name] = value.strip()
    return tags, errors


class _CheckdmarcResolver:
    """The part of dns.resolver.Resolver that checkdmarc calls, answered by our Resolver.

    checkdmarc's report-destination and MX checks call `resolve(name, type, lifetime=)` on a
    supplied resolver. Routing them here keeps every query on our Resolver (zone files,
    replay, the chosen server) instead of the system resolver.
    """

    lifetime = 5.0

    def __init__(self, resolver):
        self._resolver = resolver

    def resolve(self, name, rdtype, lifetime=None, **_ignored):
        import dns.name
        import dns.rdata
        import dns.rdataclass
        import dns.rdatatype
        import dns.resolver
        from dns.rdtypes.ANY.TXT import TXT

        answer = self._resolver.query(str(name).rstrip("."), str(rdtype))
        if answer.status == NXDOMAIN:
            raise dns.resolver.NXDOMAIN()
        if answer.status in (NODATA,) or (answer.status == OK and not answer.records):
            raise dns.resolver.NoAnswer()
        if answer.temporary:
            raise dns.resolver.NoNameservers()

        rdatas = []
        for record in answer.records:
            if answer.rdtype == "TXT":
                data = record.encode("utf-8")
                chunks = [data[start:start + 255] for start in range(0, len(data), 255)] or [b""]
                rdatas.append(TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks))
            else:
                rdatas.append(dns.rdata.from_text(dns.rdataclass.IN, answer.rdtype, record))
        return rdatas


def _validate_with_checkdmarc(resolver, record: str, domain: str) -> tuple[list[str], list[str]]:
    """Return (errors, warnings) from checkdmarc's parser, with its DNS sent through `resolver`."""
    import checkdmarc.dmarc
    import checkdmarc.utils

    # checkdmarc keeps a process-wide answer cache keyed by name only; answers from another
    # check (another zone file or server) must not leak into this one.
    checkdmarc.utils.DNS_CACHE.clear()
    try:
        parsed = checkdmarc.dmarc.parse_dmarc_record(
            record, domain, resolver=_CheckdmarcResolver(resolver), retries=0, timeout=5.0
        )
    except checkdmarc.dmarc.DMARCError as error:
        return [str(error)], []
    finally:
        checkdmarc.utils.DNS_CACHE.clear()
    return [], [str(warning) for warning in parsed.get("warnings", [])]


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


def report_destinations(resolver, policy_domain: str, tags: dict) -> list[dict]:
    """Check that external rua/ruf destinations accept reports (RFC 7489 section 7.1)."""
    destinations = []
    for tag in ("rua", "ruf"):
        for uri in (tags.get(tag) or "").split(","):
            uri = uri.strip()
            if not uri.lower().startswith("mailto:"):
                continue
            address = uri[len("mailto:"):].split("!", 1)[0]
            host = address.rpartition("@")[2].rstrip(".").lower()
            if not host or org_domain(host) == org_domain(policy_domain):
                continue

            name = f"{policy_domain}._report._dmarc.{host}"
            answer = resolver.query(name, "TXT")
            if answer.temporary:
                authorised = "temperror"
            else:
                authorised = answer.status == OK and any(record.startswith("v=DMARC1") for record in answer.records)
            destinations.append(
                {
                    "tag": tag,
                    "uri": uri,
                    "host": host,
                    "authorised": authorised,
                    "query": evidence(answer),
                    "fix_record": f'{name}. TXT "v=DMARC1"',
                }
            )
    return destinations


def check_dmarc(resolver, domain: str, min_policy: str | None = None) -> dict:
    """Check the DMARC posture of `domain`; return the fact for `dns.dmarc`."""
    discovery = lookup_policy(resolver, domain)
    answer = discovery["answer"]
    fact = {
        "domain": domain,
        "policy_domain": discovery["policy_domain"],
        "queries": discovery["queries"],
        "records": discovery["records"],
        "record_count": len(discovery["records"]),
        "suggested_record": f"_dmarc.{domain}. TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}\"",
    }
    if min_policy:
        fact["min_policy"] = min_policy

    if answer.temporary:
        fact["status"] = "temperror"
        return fact
    if not discovery["records"]:
        fact["status"] = "none"
        return fact
    if len(discovery["records"]) > 1:
        # RFC 7489 section 6.6.3 step 5: several records end discovery; no policy applies.
        fact["status"] = "permerror"
        fact["error"] = f"{len(discovery['records'])} DMARC records at _dmarc.{discovery['policy_domain']}; publish exactly one"
        return fact

    record = discovery["records"][0]
    tags, errors = split_tags(record)
    checkdmarc_errors, warnings = _validate_with_checkdmarc(resolver, record, discovery["policy_domain"])
    errors += checkdmarc_errors
    policy = (tags.get("p") or "").lower()
    if policy not in POLICY_RANK:
        # RFC 7489 section 6.3: p is required in a policy record and must be one of three values.
        errors.append(f"p={tags.get('p')!r} is missing or invalid; use none, quarantine or reject" if "p" in tags else "the p tag is missing (RFC 7489 section 6.3)")
    pct = tags.get("pct", "100")
    if not pct.isdigit() or not 0 <= int(pct) <= 100:
        errors.append(f"pct={pct!r} is not an integer from 0 to 100 (RFC 7489 section 6.3)")

    subdomain_policy = (tags.get("sp") or policy).lower()
    fact.update(
        {
            "status": "permerror" if errors else "ok",
            "record": record,
            "tags": tags,
            "p": policy or None,
            "sp": subdomain_policy or None,
            # The policy that applies to mail from `domain` itself: sp when the record came
            # from the organisational domain (RFC 7489 section 6.6.3 step 6).
            "effective_policy": subdomain_policy if discovery["policy_domain"] != domain else (policy or None),
            "pct": int(pct) if pct.isdigit() else None,
            "adkim": tags.get("adkim", "r").lower(),
            "aspf": tags.get("aspf", "r").lower(),
            "rua": [uri.strip() for uri in tags.get("rua", "").split(",") if uri.strip()],
            "ruf": [uri.strip() for uri in tags.get("ruf", "").split(",") if uri.strip()],
            "syntax_errors": errors,
            "warnings": warnings,
            "destinations": report_destinations(resolver, discovery["policy_domain"], tags),
        }
    )
    fact["unauthorised_destinations"] = [item for item in fact["destinations"] if item["authorised"] is False]
    effective = fact["effective_policy"]
    if min_policy and effective in POLICY_RANK:
        fact["below_min_policy"] = POLICY_RANK[effective] < POLICY_RANK[min_policy]
    fact["next_policy"] = {"none": "quarantine", "quarantine": "reject"}.get(effective)
    return fact
