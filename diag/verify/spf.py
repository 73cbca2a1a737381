"""Evaluate SPF (RFC 7208) for the receiver's SMTP client with pyspf, through our Resolver."""

import logging

from diag.dns.resolver import Resolver
from diag.verify.lookup import bound_spf_resolver

log = logging.getLogger(__name__)


def _check(resolver: Resolver, ip: str, sender: str, helo: str) -> dict:
    import spf  # pyspf; kept off the `analyze --offline` import path

    with bound_spf_resolver(resolver):
        # querytime=0 leaves time limits to our Resolver, which has its own timeout.
        query = spf.query(i=ip, s=sender, h=helo or "unknown", strict=True, querytime=0)
        result, _code, explanation = query.check()
    fact = {"result": result, "explanation": explanation}
    # The record pyspf evaluated for the top-level domain (None when there was none).
    record = getattr(query, "mechanism", None)
    if record:
        fact["mechanism"] = record
    return fact


def _spf_record(resolver: Resolver, domain: str) -> str | None:
    answer = resolver.query(domain, "TXT")
    records = [record for record in answer.records if record.lower().startswith("v=spf1")] if answer.status == "ok" else []
    return records[0] if len(records) == 1 else None


def check_spf(resolver: Resolver, ip: str, mailfrom: str | None, helo: str | None) -> dict:
    """Return {mailfrom_result, helo_result, record, ...} for the client `ip`.

    With a null reverse-path, the MAIL FROM identity is postmaster@HELO (RFC 7208 section
    2.4). The HELO identity is checked only when it is a domain (section 2.3).
    """
    fact: dict = {}
    helo_domain = helo if helo and "." in helo and not helo.replace(".", "").isdigit() else None
    sender = mailfrom if mailfrom and "@" in mailfrom else (f"postmaster@{mailfrom}" if mailfrom else None)
    if sender is None and helo_domain:
        sender = f"postmaster@{helo_domain}"

    if sender is not None:
        checked = _check(resolver, ip, sender, helo_domain or "")
        domain = sender.rpartition("@")[2].lower()
        fact.update(mailfrom=sender, mailfrom_domain=domain, mailfrom_result=checked["result"], mailfrom_explanation=checked["explanation"])
        if checked.get("mechanism"):
            fact["mailfrom_mechanism"] = checked["mechanism"]
        record = _spf_record(resolver, domain)
        if record:
            fact["record"] = record
    if helo_domain:
        checked = _check(resolver, ip, f"postmaster@{helo_domain}", helo_domain)
        fact.update(helo=helo_domain, helo_result=checked["result"], helo_explanation=checked["explanation"])
    log.debug("SPF for %s: mailfrom %s, helo %s", ip, fact.get("mailfrom_result"), fact.get("helo_result"))
    return fact
