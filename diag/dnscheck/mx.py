"""MX records: the domain's own, and the custom MAIL FROM domain's feedback MX for SES."""

from diag.dns.resolver import NODATA, NXDOMAIN
from diag.dnscheck.evidence import evidence


def parse_mx(record: str) -> tuple[int | None, str]:
    preference, _, exchange = record.strip().partition(" ")
    exchange = exchange.strip().rstrip(".").lower()
    return (int(preference) if preference.isdigit() else None), exchange


def check_mx(resolver, domain: str) -> dict:
    """Look up the MX records of `domain`; note a null MX (RFC 7505)."""
    answer = resolver.query(domain, "MX")
    fact = {"domain": domain, "query": evidence(answer)}
    if answer.temporary:
        fact["status"] = "temperror"
        return fact
    if answer.status in (NXDOMAIN, NODATA) or not answer.records:
        fact["status"] = "none"
        return fact

    hosts = [{"preference": preference, "exchange": exchange} for preference, exchange in map(parse_mx, answer.records)]
    fact["status"] = "ok"
    fact["hosts"] = hosts
    # RFC 7505 section 3: a single MX "0 ." says the domain accepts no mail.
    fact["null_mx"] = len(hosts) == 1 and hosts[0]["exchange"] == "" and hosts[0]["preference"] == 0
    return fact


def check_mail_from_mx(resolver, mail_from_domain: str, region: str | None) -> dict:
    """Check the custom MAIL FROM domain's MX (SES Developer Guide, "Using a custom MAIL FROM domain").

    SES expects exactly one MX record, `10 feedback-smtp.REGION.amazonses.com`, so that
    bounces and complaints reach SES in the region that sends.
    """
    fact = check_mx(resolver, mail_from_domain)
    if region:
        expected = f"feedback-smtp.{region}.amazonses.com"
        fact["expected"] = f"10 {expected}"
        fact["fix_record"] = f"{mail_from_domain}. MX 10 {expected}."
        if fact["status"] == "ok":
            exchanges = [host["exchange"] for host in fact["hosts"]]
            fact["matches"] = exchanges == [expected]
    elif fact["status"] == "ok":
        # Without the region only the shape can be judged: one SES feedback host.
        fact["matches"] = len(fact["hosts"]) == 1 and fact["hosts"][0]["exchange"].startswith("feedback-smtp.") and fact["hosts"][0]["exchange"].endswith(".amazonses.com")
    return fact

