"""Evaluate SPF (RFC 7208) for the receiver's SMTP client with pyspf, through our Resolver."""

import logging

from diag.dns.resolver import Resolver
from diag.verify.lookup import bound_spf_resolver

log = logging.getLogger(__name__)


def _check(resolver: Resolver, ip: str, sender: str, helo: str, results: dict | None = None) -> dict:
    """Run pyspf for one identity; `results` caches outcomes for the run.

    Without macros (RFC 7208 section 7) the result depends only on the IP, the domain and
    the HELO name, so it is cached under those. A record or include that uses a macro can
    depend on the sender's local part, so its result is cached under the full sender only.
    """
    import spf  # pyspf; kept off the `analyze --offline` import path

    domain = sender.rpartition("@")[2].lower()
    by_domain, by_sender = (ip, domain, helo.lower()), (ip, sender.lower(), helo.lower())
    if results is not None:
        cached = results.get(by_domain) or results.get(by_sender)
        if cached is not None:
            return cached

    with bound_spf_resolver(resolver) as lookups:
        # querytime=0 leaves time limits to our Resolver, which has its own timeout.
        query = spf.query(i=ip, s=sender, h=helo or "unknown", strict=True, querytime=0)
        result, _code, explanation = query.check()
    fact = {"result": result, "explanation": explanation}
    # The mechanism that matched, such as ip4:192.0.2.0/24 (pyspf sets it on a match).
    mechanism = getattr(query, "mechanism", None)
    if mechanism:
        fact["mechanism"] = mechanism
    if results is not None:
        results[by_sender if lookups.macros else by_domain] = fact
    return fact


def _spf_record(resolver: Resolver, domain: str) -> str | None:
    answer = resolver.query(domain, "TXT")
    records = [record for record in answer.records if record.lower().startswith("v=spf1")] if answer.status == "ok" else []
    return records[0] if len(records) == 1 else None


def check_spf(resolver: Resolver, ip: str, mailfrom: str | None, helo: str | None, results: dict | None = None) -> dict:
    """Return {mailfrom_result, helo_result, record, ...} for the client `ip`.

    With a null reverse-path, the MAIL FROM identity is postmaster@HELO (RFC 7208 section
    2.4). The HELO identity is checked only when it is a domain (section 2.3).
    """
    fact: dict = {}
    helo_domain = helo if helo and "." in helo and not helo.replace(".", "").isdigit() else None
    # A bare domain (Microsoft writes smtp.mailfrom=DOMAIN) is checked as postmaster@DOMAIN.
    sender = None
    if mailfrom:
        sender = mailfrom if "@" in mailfrom else f"postmaster@{mailfrom}"
    elif helo_domain:
        sender = f"postmaster@{helo_domain}"

    if sender is not None:
        checked = _check(resolver, ip, sender, helo_domain or "", results)
        domain = sender.rpartition("@")[2].lower()
        fact.update(mailfrom=sender, mailfrom_domain=domain, mailfrom_result=checked["result"], mailfrom_explanation=checked["explanation"])
        if checked.get("mechanism"):
            fact["mailfrom_mechanism"] = checked["mechanism"]
        record = _spf_record(resolver, domain)
        if record:
            fact["record"] = record
    if helo_domain:
        checked = _check(resolver, ip, f"postmaster@{helo_domain}", helo_domain, results)
        fact.update(helo=helo_domain, helo_result=checked["result"], helo_explanation=checked["explanation"])
    log.debug("SPF for %s: mailfrom %s, helo %s", ip, fact.get("mailfrom_result"), fact.get("helo_result"))
    return fact
