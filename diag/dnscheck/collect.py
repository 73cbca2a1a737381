"""Gather the `dns.*` facts of one domain (docs/facts.md lists every path)."""

import logging

from diag.dnscheck.dkim import check_key
from diag.dnscheck.dmarc import check_dmarc
from diag.dnscheck.evidence import MemoResolver
from diag.dnscheck.expectations import Expectations
from diag.dnscheck.mx import check_mail_from_mx, check_mx
from diag.dnscheck.ses import check_easy_dkim, check_verification
from diag.dnscheck.spf import check_spf

log = logging.getLogger(__name__)

SES_SPF_INCLUDE = "amazonses.com"


def _dkim_keys(ses_dkim: dict, selector_keys: list[dict]) -> list[dict]:
    keys = [entry["key"] | {"token": entry["token"]} for entry in ses_dkim.get("entries", []) if "key" in entry]
    return keys + selector_keys


def collect_dns_facts(resolver, domain: str, expectations: Expectations, *, mail_from_domain: str | None = None, dkim_selectors: tuple[str, ...] = ()) -> dict:
    """Query the DNS posture of `domain` and return the `dns` part of the Facts document.

    Every fact carries its evidence (name, type, status, answer). A temporary failure is
    stored as status `temperror`, never as a missing record.
    """
    resolver = MemoResolver(resolver)
    mail_from_domain = mail_from_domain or expectations.mail_from_domain
    selectors = tuple(dkim_selectors) or expectations.dkim_selectors
    includes = tuple(expectations.spf_includes)

    # SES is the sender at the custom MAIL FROM domain when there is one; without it, the
    # From domain's record is the one the SES Developer Guide asks to extend.
    spf = [check_spf(resolver, domain, "from", includes if not mail_from_domain else ())]
    mail_from = None
    if mail_from_domain:
        spf.append(check_spf(resolver, mail_from_domain, "mail_from", includes or (SES_SPF_INCLUDE,)))
        mail_from = check_mail_from_mx(resolver, mail_from_domain, expectations.region)

    ses_dkim = check_easy_dkim(resolver, domain, expectations.dkim_tokens)
    selector_keys = [check_key(resolver, f"{selector}._domainkey.{domain}", "selector") | {"selector": selector} for selector in selectors]

    facts = {
        "domain": domain,
        "spf": spf,
        "dmarc": check_dmarc(resolver, domain, expectations.min_dmarc_policy),
        "ses_dkim": ses_dkim,
        "dkim_keys": _dkim_keys(ses_dkim, selector_keys),
        "ses_verification": check_verification(resolver, domain),
        "mx": check_mx(resolver, domain),
        "expectations": {
            "source": expectations.source,
            "region": expectations.region,
            "dkim_tokens_given": bool(expectations.dkim_tokens),
            "mail_from_domain": mail_from_domain,
            "min_dmarc_policy": expectations.min_dmarc_policy,
            "spf_includes": list(includes),
        },
    }
    if mail_from is not None:
        facts["mail_from"] = mail_from

    facts["query_count"] = len(resolver.queries)
    facts["temperror"] = _has_temperror(facts)
    log.debug("DNS facts for %s: %d queries, temperror=%s", domain, facts["query_count"], facts["temperror"])
    return facts


def _has_temperror(value) -> bool:
    """Tell whether any fact under `value` has status temperror."""
    if isinstance(value, dict):
        if value.get("status") == "temperror":
            return True
        return any(_has_temperror(item) for key, item in value.items() if key not in ("query", "queries"))
    if isinstance(value, list):
        return any(_has_temperror(item) for item in value)
    return False
