"""Gather the sending identities of one region: verification, Easy DKIM, MAIL FROM, notifications.

Sources: SES v2 ListEmailIdentities and GetEmailIdentity, SES v1
GetIdentityNotificationAttributes (v2 has no call for the per-identity SNS topics).
"""

import logging

from diag.ses.lookup import Recorder

log = logging.getLogger(__name__)

# GetIdentityNotificationAttributes accepts at most 100 identities per request (SES API reference).
_NOTIFICATION_BATCH = 100


def key_length_bits(value: str | None) -> int | None:
    """Return 2048 for "RSA_2048_BIT", None when absent."""
    if not value:
        return None
    digits = "".join(character for character in value if character.isdigit())
    return int(digits) if digits else None


def dkim_records(domain: str, tokens: list[str]) -> list[dict]:
    """Return the three Easy DKIM CNAMEs (SES Developer Guide, "Easy DKIM")."""
    return [
        {"name": f"{token}._domainkey.{domain}", "type": "CNAME", "value": f"{token}.dkim.amazonses.com"}
        for token in tokens
    ]


def mail_from_records(mail_from_domain: str, region: str) -> list[dict]:
    """Return the MX and SPF records of a custom MAIL FROM domain (SES Developer Guide, "Using a custom MAIL FROM domain")."""
    return [
        {"name": mail_from_domain, "type": "MX", "value": f"10 feedback-smtp.{region}.amazonses.com"},
        {"name": mail_from_domain, "type": "TXT", "value": '"v=spf1 include:amazonses.com ~all"'},
    ]


def identity_candidates(address: str) -> list[str]:
    """Return the identities that can authorise sending from `address`, most specific first.

    The address, its domain, and each parent domain up to the organisational domain: a
    verified domain lets SES send from its subdomains too (SES Developer Guide, "Creating
    and verifying identities").
    """
    from diag.facts.orgdomain import org_domain

    domain = address.rpartition("@")[2].lower().rstrip(".")
    names = [address] if "@" in address else []
    organisational = org_domain(domain) or domain
    if domain != organisational and not domain.endswith("." + organisational):
        return names + [domain]

    labels = domain.split(".")
    for start in range(len(labels)):
        name = ".".join(labels[start:])
        names.append(name)
        if name == organisational:
            break
    return names


def list_identities(recorder: Recorder) -> list[dict] | None:
    """Return the ListEmailIdentities entries of the region, following NextToken."""
    entries, token = [], None
    while True:
        params = {"PageSize": 1000}
        if token:
            params["NextToken"] = token
        response = recorder.call("sesv2", "ListEmailIdentities", **params)
        if response is None:
            return None
        entries.extend(response.get("EmailIdentities", []))
        token = response.get("NextToken")
        if not token:
            return entries


def describe_identity(recorder: Recorder, name: str, listed: dict | None = None) -> dict | None:
    """Return the facts of one identity from GetEmailIdentity, or None when it does not exist."""
    response = recorder.call("sesv2", "GetEmailIdentity", key=f"get_email_identity:{name}", EmailIdentity=name)
    if response is None:
        if recorder.outcomes.get(f"get_email_identity:{name}") == "not_found":
            return None
        return {"name": name, "lookup": recorder.outcomes.get(f"get_email_identity:{name}", "error")}

    identity_type = response.get("IdentityType")
    region = recorder.context.region
    domain = name.rpartition("@")[2].lower()
    dkim = response.get("DkimAttributes") or {}
    tokens = dkim.get("Tokens") or []
    facts = {
        "name": name,
        "domain": domain,
        "type": identity_type,
        "lookup": "ok",
        "verification_status": response.get("VerificationStatus"),
        "verified_for_sending": response.get("VerifiedForSendingStatus"),
        "verification_error": (response.get("VerificationInfo") or {}).get("ErrorType"),
        "configuration_set": response.get("ConfigurationSetName"),
        "dkim": {
            "status": dkim.get("Status"),
            "signing_enabled": dkim.get("SigningEnabled"),
            "origin": dkim.get("SigningAttributesOrigin"),
            "tokens": tokens,
            "current_key_bits": key_length_bits(dkim.get("CurrentSigningKeyLength")),
            "next_key_bits": key_length_bits(dkim.get("NextSigningKeyLength")),
            # Only Easy DKIM (origin AWS_SES) uses these CNAMEs; BYODKIM publishes its own TXT.
            "records": dkim_records(domain, tokens) if identity_type == "DOMAIN" and dkim.get("SigningAttributesOrigin", "AWS_SES").startswith("AWS_SES") else [],
        },
    }
    if listed is not None:
        facts["sending_enabled"] = listed.get("SendingEnabled")

    mail_from = response.get("MailFromAttributes") or {}
    if mail_from.get("MailFromDomain"):
        facts["mail_from"] = {
            "domain": mail_from["MailFromDomain"].lower(),
            "status": mail_from.get("MailFromDomainStatus"),
            "behavior_on_mx_failure": mail_from.get("BehaviorOnMxFailure"),
            "records": mail_from_records(mail_from["MailFromDomain"].lower(), region),
        }
    return facts


def add_notifications(recorder: Recorder, identities: list[dict]) -> None:
    """Add each identity's bounce, complaint and delivery SNS topics and feedback forwarding."""
    names = [identity["name"] for identity in identities if identity.get("lookup") == "ok"]
    for start in range(0, len(names), _NOTIFICATION_BATCH):
        batch = names[start:start + _NOTIFICATION_BATCH]
        response = recorder.call("ses", "GetIdentityNotificationAttributes", Identities=batch)
        if response is None:
            return
        attributes = response.get("NotificationAttributes", {})
        for identity in identities:
            found = attributes.get(identity["name"])
            if found is None:
                continue
            identity["notifications"] = {
                "bounce_topic": found.get("BounceTopic"),
                "complaint_topic": found.get("ComplaintTopic"),
                "delivery_topic": found.get("DeliveryTopic"),
                "forwarding_enabled": found.get("ForwardingEnabled"),
            }


def gather(recorder: Recorder) -> list[dict] | None:
    """Return the facts of every identity in the region, or None when listing failed."""
    listed = list_identities(recorder)
    if listed is None:
        return None

    identities = []
    for entry in listed:
        described = describe_identity(recorder, entry["IdentityName"], listed=entry)
        if described is not None:
            identities.append(described)

    add_notifications(recorder, identities)
    log.info("%d identities in %s", len(identities), recorder.context.region)
    return identities
