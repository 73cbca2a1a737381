"""Amazon SES DNS records: the three Easy DKIM CNAMEs and the `_amazonses` verification TXT.

Source: Amazon SES Developer Guide, "Easy DKIM in Amazon SES": each of the three tokens is
published as `TOKEN._domainkey.DOMAIN CNAME TOKEN.dkim.amazonses.com`.
"""

import logging

from diag.dns.resolver import NODATA, NXDOMAIN, OK
from diag.dnscheck.dkim import check_key
from diag.dnscheck.evidence import evidence

log = logging.getLogger(__name__)

SES_DKIM_SUFFIX = "dkim.amazonses.com"
EASY_DKIM_TOKEN_COUNT = 3
# Entry statuses that no rule more specific than ses-dkim-cnames-missing explains.
UNEXPLAINED_STATUSES = ("missing", "loop")
# Public resolvers give up on CNAME chains long before this; 8 hops is generous.
MAX_CNAME_HOPS = 8


def follow_cnames(resolver, name: str) -> dict:
    """Follow the CNAME chain at `name` one hop at a time; detect loops ourselves.

    A resolver meets a CNAME loop with SERVFAIL, which would read as a temporary failure;
    walking the chain here tells a permanent loop apart from a failing server.
    """
    chain, queries, current = [], [], name
    for _ in range(MAX_CNAME_HOPS):
        answer = resolver.query(current, "CNAME")
        queries.append(evidence(answer))
        if answer.temporary:
            return {"status": "temperror", "chain": chain, "queries": queries}
        if answer.status != OK or not answer.records:
            return {"status": answer.status if chain == [] else "ok", "chain": chain, "queries": queries}
        target = answer.records[0].rstrip(".").lower()
        if target in chain or target == name:
            return {"status": "loop", "chain": chain + [target], "queries": queries}
        chain.append(target)
        current = target
    return {"status": "loop", "chain": chain, "queries": queries, "detail": f"more than {MAX_CNAME_HOPS} CNAME hops"}


def check_token(resolver, domain: str, token: str) -> dict:
    """Check one Easy DKIM token: the CNAME, its target, the key behind it, and the usual mistakes."""
    name = f"{token}._domainkey.{domain}"
    expected = f"{token}.{SES_DKIM_SUFFIX}"
    cnames = follow_cnames(resolver, name)
    entry = {
        "token": token,
        "name": name,
        "expected_target": expected,
        "queries": cnames["queries"],
        "chain": cnames["chain"],
        "fix_record": f"{name}. CNAME {expected}.",
    }

    if cnames["status"] == "temperror":
        entry["status"] = "temperror"
        return entry
    if cnames["status"] == "loop":
        entry["status"] = "loop"
        return entry

    if cnames["chain"]:
        entry["target"] = cnames["chain"][0]
        entry["target_ok"] = entry["target"] == expected
        entry["status"] = "ok" if entry["target_ok"] else "wrong_target"
        entry["key"] = check_key(resolver, name, "ses")
        if entry["key"]["status"] == "temperror":
            entry["status"] = "temperror"
        return entry

    # No CNAME. A TXT key pasted at the name is the usual mistake when the panel offers
    # only TXT, or when a copy of the key was made instead of the CNAME.
    txt = resolver.query(name, "TXT")
    entry["txt_query"] = evidence(txt)
    if txt.temporary:
        entry["status"] = "temperror"
        return entry
    if txt.status == OK and txt.records:
        entry["status"] = "txt_instead"
        return entry

    # Nothing at the name: look for the zone name appended twice by a DNS panel.
    doubled_name = f"{name}.{domain}"
    doubled = resolver.query(doubled_name, "CNAME")
    entry["doubled_query"] = evidence(doubled)
    if doubled.temporary:
        entry["status"] = "temperror"
    elif doubled.status == OK and doubled.records:
        entry["status"] = "doubled"
        entry["doubled_name"] = doubled_name
    else:
        entry["status"] = "missing"
    return entry


def check_easy_dkim(resolver, domain: str, tokens: tuple[str, ...]) -> dict:
    """Check the Easy DKIM CNAMEs of `domain`; return the fact for `dns.ses_dkim`."""
    if not tokens:
        return {
            "domain": domain,
            "status": "unknown_tokens",
            "how_to_get_tokens": f"aws sesv2 get-email-identity --email-identity {domain}",
        }

    entries = [check_token(resolver, domain, token) for token in tokens]
    by_status = {}
    for entry in entries:
        by_status.setdefault(entry["status"], []).append(entry)
    resolving = len(by_status.get("ok", []))

    if by_status.get("temperror"):
        status = "temperror"
    elif resolving >= EASY_DKIM_TOKEN_COUNT and resolving == len(entries):
        status = "ok"
    else:
        status = "incomplete"
    return {
        "domain": domain,
        "status": status,
        "tokens": list(tokens),
        "entries": entries,
        "resolving_count": resolving,
        "token_count": len(tokens),
        "missing": [entry for entry in entries if entry["status"] in ("missing", "loop")],
        "wrong_target": [entry for entry in entries if entry["status"] == "wrong_target"],
        "txt_instead": [entry for entry in entries if entry["status"] == "txt_instead"],
        "doubled": [entry for entry in entries if entry["status"] == "doubled"],
        "fix_records": [entry["fix_record"] for entry in entries if entry["status"] != "ok"],
        # Tokens that are not ok for no more specific reason (a TXT in place of the CNAME,
        # a doubled name, a wrong target, each judged by its own rule).
        "unexplained": [entry for entry in entries if entry["status"] in UNEXPLAINED_STATUSES],
        # The failing names with their last answer, compact enough to show as evidence.
        "problems": [{"name": entry["name"], "status": entry["status"], "query": entry["queries"][-1]} for entry in entries if entry["status"] != "ok"],
    }


def check_verification(resolver, domain: str) -> dict:
    """Look up the legacy `_amazonses.DOMAIN` verification TXT (optional once DKIM verifies)."""
    answer = resolver.query(f"_amazonses.{domain}", "TXT")
    fact = {"name": f"_amazonses.{domain}", "query": evidence(answer)}
    if answer.temporary:
        fact["status"] = "temperror"
    elif answer.status in (NXDOMAIN, NODATA) or not answer.records:
        fact["status"] = "none"
    else:
        fact["status"] = "ok"
        fact["count"] = len(answer.records)
    return fact
