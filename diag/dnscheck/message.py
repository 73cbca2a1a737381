"""Join a message with DNS as it is now: fill `dns.*` for the message's domains and `dns.message.*`.

`maildiag analyze` calls this for every message when DNS answers are available, headers
only or a full message alike. It runs the checks of `maildiag dns` on the From domain, so
the DNS posture rules fire in analyze too. It also records what DNS returns now for the
names the receiver looked up at delivery: the MAIL FROM domain's SPF result for the
connecting IP, each DKIM-Signature's key, and the DMARC policy. Rules compare these with
the receiver's verdicts in `verdicts.*`.

The record of a DMARC policy now lives in `dns.dmarc` (filled by diag.dnscheck.dmarc);
`dns.message.dmarc` holds only the comparison with what the receiver reported.
"""

import logging
import re

from diag.dns.resolver import NODATA, NXDOMAIN, OK, Resolver
from diag.dnscheck.collect import collect_dns_facts
from diag.dnscheck.dkim import check_key
from diag.dnscheck.expectations import Expectations
from diag.dnscheck.names import to_ascii_domain
from diag.dnscheck.spf import check_spf, fetch
from diag.errors import InputError
from diag.facts.orgdomain import org_domain

log = logging.getLogger(__name__)

SES_SPF_INCLUDE = "amazonses.com"
# RFC 6376 section 3.1: selector = sub-domain *( "." sub-domain ), each an RFC 5321 label.
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def _domain(text: str | None) -> str | None:
    """Return `text` as an A-label domain, or None when it is absent or not a domain name."""
    if not text:
        return None
    try:
        return to_ascii_domain(text)
    except InputError as error:
        log.info("not looked up in DNS: %s", error)
        return None


def _mail_from(facts: dict) -> tuple[str | None, str | None, str | None]:
    """Return (domain, identity, source) of the SPF identity the receiver checked.

    The receiver's smtp.mailfrom comes first because it is the name the receiver looked up.
    For a null reverse-path that is smtp.helo (RFC 7208 section 2.4). The Return-Path is next.
    """
    verdicts = facts.get("verdicts") or {}
    if verdicts.get("spf_domain"):
        identity = "helo" if verdicts.get("spf_identity") == "helo" else "mailfrom"
        return _domain(verdicts["spf_domain"]), identity, "authentication-results"
    return_path = (facts.get("identities") or {}).get("return_path") or {}
    if return_path.get("domain") and not return_path.get("null"):
        return _domain(return_path["domain"]), "mailfrom", "return-path"
    return None, None, None


def _expectations(facts: dict, from_domain: str, mail_from_domain: str | None) -> Expectations:
    """Build from the headers the expectations that `maildiag dns` reads from a file.

    A message names no Easy DKIM tokens and no minimum DMARC policy, so those checks stay
    off. include:amazonses.com is required only at a custom MAIL FROM domain of mail that
    SES sent: with the default MAIL FROM (a subdomain of amazonses.com), receivers evaluate
    amazonses.com's record and never read the sender's (Amazon SES Developer Guide,
    "Authenticating Email with SPF in Amazon SES").
    """
    identities = facts.get("identities") or {}
    if identities.get("esp") == "amazonses" and _is_custom_mail_from(mail_from_domain, from_domain):
        region = (identities.get("feedback_id") or {}).get("region")
        return Expectations(mail_from_domain=mail_from_domain, region=region, spf_includes=(SES_SPF_INCLUDE,), source="message headers")
    return Expectations(spf_includes=(), source="message headers")


def _is_custom_mail_from(mail_from_domain: str | None, from_domain: str) -> bool:
    """Tell whether the MAIL FROM domain is the sender's own subdomain (aligned, relaxed, and not the From domain)."""
    return bool(mail_from_domain) and mail_from_domain != from_domain and org_domain(mail_from_domain) == org_domain(from_domain)


def _signature_selectors(facts: dict, from_domain: str) -> tuple[str, ...]:
    """Return the selectors of the signatures made with d= the From domain, for `dns.dkim_keys`."""
    selectors = []
    for signature in facts.get("dkim_signatures") or []:
        selector = (signature.get("s") or "").lower()
        if _domain(signature.get("d")) == from_domain and _SELECTOR.match(selector) and selector not in selectors:
            selectors.append(selector)
    return tuple(selectors)


def posture(resolver: Resolver, facts: dict, from_domain: str, mail_from_domain: str | None) -> dict:
    """Return the `dns` facts of `maildiag dns` for the From domain and the sender's own MAIL FROM domain."""
    expectations = _expectations(facts, from_domain, mail_from_domain)
    dns_facts = collect_dns_facts(resolver, from_domain, expectations, dkim_selectors=_signature_selectors(facts, from_domain))

    # Easy DKIM is checked by its three tokens. A message shows at most the one it was
    # signed with, so the token checks would report the other two as missing.
    dns_facts.pop("ses_dkim", None)

    if expectations.mail_from_domain is None and _is_custom_mail_from(mail_from_domain, from_domain):
        # Another sending service's custom MAIL FROM: its SPF record is the sender's to fix,
        # but which include it needs is unknown, so none is required.
        mail_from_spf = check_spf(resolver, mail_from_domain, "mail_from")
        dns_facts["spf"].append(mail_from_spf)
        dns_facts["temperror"] = dns_facts["temperror"] or mail_from_spf["status"] == "temperror"
    return dns_facts


def return_path_spf(resolver: Resolver, facts: dict, domain: str, identity: str, source: str, spf_results: dict | None) -> dict:
    """Evaluate SPF now for the MAIL FROM domain and the IP the receiver saw (RFC 7208 section 2.4)."""
    from diag.verify.spf import check_spf as evaluate_spf

    verdicts = facts.get("verdicts") or {}
    lookup = fetch(resolver, domain)
    fact = {
        "domain": domain,
        "identity": identity,
        "source": source,
        "aligned": org_domain(domain) == org_domain(((facts.get("identities") or {}).get("from") or {}).get("domain")),
        "record_status": lookup["status"],
        "query": lookup["query"],
    }
    if len(lookup["records"]) == 1:
        fact["record"] = lookup["records"][0]
    if verdicts.get("spf"):
        fact["receiver_result"] = verdicts["spf"]

    ip = verdicts.get("sender_ip")
    if not ip:
        return fact
    fact["ip"] = ip
    fact["ip_source"] = verdicts.get("sender_ip_source")
    if identity == "helo":
        evaluated = evaluate_spf(resolver, ip, None, domain, spf_results)
        fact["result_now"] = evaluated.get("helo_result")
    else:
        evaluated = evaluate_spf(resolver, ip, domain, None, spf_results)
        fact["result_now"] = evaluated.get("mailfrom_result")
        if evaluated.get("mailfrom_mechanism"):
            fact["mechanism_now"] = evaluated["mailfrom_mechanism"]
    if fact.get("receiver_result") and fact.get("result_now"):
        fact["changed"] = fact["receiver_result"].lower() != fact["result_now"].lower()
    return fact


def _key_status(key: dict) -> str:
    """Return ok, nxdomain, nodata, revoked, invalid or temperror for one key lookup."""
    if key["status"] == "none":
        # check_key reports both missing names and names without a p= record as `none`, so
        # the answer's own status (NXDOMAIN or NODATA, RFC 2308) separates them.
        answer_status = key["query"]["status"]
        if answer_status in (NXDOMAIN, NODATA):
            return answer_status
        return "invalid" if answer_status == OK else "nodata"
    return key["status"]


def signature_keys(resolver: Resolver, facts: dict) -> list[dict]:
    """Look up the key of every DKIM-Signature at s=._domainkey.d= (RFC 6376 section 3.6.2.1)."""
    receiver = {}
    for entry in (facts.get("verdicts") or {}).get("dkim") or []:
        if entry.get("signature") is not None and entry.get("result"):
            receiver.setdefault(entry["signature"], entry["result"])

    from_domain = ((facts.get("identities") or {}).get("from") or {}).get("domain")
    keys = []
    for index, signature in enumerate(facts.get("dkim_signatures") or []):
        domain = _domain(signature.get("d"))
        selector = (signature.get("s") or "").lower()
        # Relaxed alignment (RFC 7489 section 3.1.1): the keys the From domain's owner publishes.
        entry = {"index": index, "d": signature.get("d"), "s": signature.get("s"), "aligned": bool(domain and from_domain) and org_domain(domain) == org_domain(from_domain)}
        if index in receiver:
            entry["receiver_result"] = receiver[index]
        if domain is None or not _SELECTOR.match(selector):
            entry["status"] = "unusable"
            entry["error"] = "the signature has no valid s= and d=, so no key name can be formed"
            keys.append(entry)
            continue

        key = check_key(resolver, f"{selector}._domainkey.{domain}", "signature")
        entry.update(name=key["name"], status=_key_status(key), query=key["query"])
        for field in ("type", "bits", "weak", "error", "multiple"):
            if field in key:
                entry[field] = key[field]
        keys.append(entry)
    return keys


def dmarc_join(resolver: Resolver, facts: dict, dns_facts: dict) -> dict:
    """Compare the DMARC verdict the receiver reported with the record published now."""
    verdicts = facts.get("verdicts") or {}
    dmarc = dns_facts.get("dmarc") or {}
    fact = {"domain": dmarc.get("domain")}
    if verdicts.get("dmarc"):
        fact["receiver_result"] = verdicts["dmarc"]
    if verdicts.get("dmarc_policy"):
        fact["receiver_policy"] = verdicts["dmarc_policy"]
    # Receivers print the record's p= tag (Gmail and OpenDMARC: `p=REJECT sp=REJECT`), so the
    # same tag is compared now, not the sp= that applies to a subdomain.
    if dmarc.get("p"):
        fact["policy_now"] = dmarc["p"].lower()
    if fact.get("receiver_policy") and fact.get("policy_now"):
        fact["policy_changed"] = fact["receiver_policy"] != fact["policy_now"]

    if dmarc.get("status") == "none":
        # diag.verify.dmarc also looks for a record at a name receivers never ask, such as a
        # doubled zone name. Its first queries repeat ones already cached.
        from diag.verify.dmarc import discover

        found = discover(resolver, dmarc["domain"])
        if found.get("misplaced"):
            fact["misplaced_record"] = found["misplaced"]
    return fact


def collect_message_dns(resolver: Resolver, facts: dict, spf_results: dict | None = None) -> dict | None:
    """Return the `dns` facts of one message, or None when it names no domain to look up.

    `resolver` should cache DNS responses for the whole run (diag.verify.lookup.CachingResolver).
    `spf_results` is the run's cache of SPF evaluations (VerifySession.spf_results).
    """
    identities = facts.get("identities") or {}
    from_domain = _domain((identities.get("from") or {}).get("domain") or (facts.get("verdicts") or {}).get("header_from"))
    mail_from_domain, identity, source = _mail_from(facts)
    if from_domain is None and mail_from_domain is None and not facts.get("dkim_signatures"):
        return None

    dns_facts: dict = {}
    message: dict = {"from_domain": from_domain}
    try:
        if from_domain is not None:
            dns_facts = posture(resolver, facts, from_domain, mail_from_domain)
        message["dkim"] = signature_keys(resolver, facts)
        if mail_from_domain is not None:
            message["return_path"] = return_path_spf(resolver, facts, mail_from_domain, identity, source, spf_results)
        if from_domain is not None:
            message["dmarc"] = dmarc_join(resolver, facts, dns_facts)
    except InputError as error:
        # A published record can name something that is not a DNS name, such as an SPF
        # include with a label over 63 octets. The header findings still count, so only the
        # DNS facts are dropped.
        log.warning("DNS checks of %s stopped: %s", from_domain or "the message", error)
        return {"message": {"from_domain": from_domain, "error": str(error), "temperror": False}}

    message["temperror"] = _message_temperror(message)
    dns_facts["message"] = message
    dns_facts["temperror"] = bool(dns_facts.get("temperror")) or message["temperror"]
    log.debug("DNS join for %s: temperror=%s", from_domain, dns_facts["temperror"])
    return dns_facts


def _message_temperror(message: dict) -> bool:
    return_path = message.get("return_path") or {}
    return (
        any(key.get("status") == "temperror" for key in message.get("dkim", []))
        or return_path.get("record_status") == "temperror"
        or return_path.get("result_now") == "temperror"
    )
