"""Identities named in the header: From, Sender, Reply-To, Return-Path, Message-ID,
Feedback-ID, and the sending service they point to."""

import logging
import re
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.utils import getaddresses

from diag.facts.esp import STRONG, WEAK, evidence_entry, provider_names, provider_of, weigh
from diag.facts.orgdomain import normalise, org_domain
from diag.messages.model import Header, fields_by_name

log = logging.getLogger(__name__)

# The common forms "Name <a@b>", "\"Name\" <a@b>", "<a@b>" and "a@b", read without
# getaddresses, which walks the text one character at a time in Python. Anything with a
# comment, a group, a quoted local part or a second address goes to getaddresses. The
# phrase is greedy and keeps the spaces before "<", which _mailbox strips. A lazy phrase
# made the engine try the rest of the pattern after every character.
_SIMPLE_MAILBOX = re.compile(
    r'\s*(?:"(?P<quoted>[^"\\]*)"|(?P<phrase>[^<>"@,;:\\()\[\]]*))\s*'
    r"<(?P<angle>[^<>\s@\",;:()\\]+@[^<>\s@\",;:()\\]+)>\s*"
    r'|\s*(?P<bare>[^<>\s@\",;:()\\]+@[^<>\s@\",;:()\\]+)\s*'
)

# getaddresses returns ("", "") for text it cannot read, so these find an address anyway.
_ANGLE_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s]+?)\s*>")
_BARE_ADDRESS = re.compile(r"([^\s<>\"',;:()]+@[^\s<>\"',;:()]+)")

# The host is greedy because it cannot contain whitespace or ">", so it ends where the
# optional closing ">" and trailing whitespace begin. A lazy host made the engine try the
# end of the pattern after every character.
_MESSAGE_ID_HOST = re.compile(r"@([^<>@\s]+)\s*>?\s*$")

# Amazon SES writes "1.<region>.<hash>=:AmazonSES", sometimes behind Gmail's empty
# campaign and customer fields ("::1.us-east-2.<hash>=:AmazonSES"). The region is the
# second dot-separated part of the field before the sender id.
_SES_FIELD = re.compile(r"^\d+\.([a-z]{2}(?:-[a-z]+)+-\d+)\.", re.IGNORECASE)

# The d= tag of a DKIM-Signature (RFC 6376 section 3.5): the first tag, or a tag after a
# ";". The engine tries a pattern that starts with (?:^|;) at every position of the long
# value, but jumps from one ";" to the next for a pattern that starts with ";".
_DKIM_FIRST_DOMAIN = re.compile(r"\s*d\s*=\s*([^;\s]+)")
_DKIM_LATER_DOMAIN = re.compile(r";\s*d\s*=\s*([^;\s]+)")

# List-Id (RFC 2919 section 3): an optional phrase, then the list identifier in angle
# brackets, a dotted name whose right part is a domain the list owner controls.
_LIST_ID = re.compile(r"^\s*(?P<description>.*?)\s*<\s*(?P<id>[^<>\s]+?)\s*>")


# The fields collect() reads, in lower case.
_IDENTITY_FIELDS = ("from", "sender", "reply-to", "return-path", "message-id", "feedback-id", "x-feedback-id", "x-ses-outgoing", "list-id")


def collect(headers: list[Header]) -> dict:
    """Read the identity fields and recognise the sending service."""
    fields = fields_by_name(headers)
    identities: dict = {"from_count": len(fields.get("from", ()))}

    # The unfolded value of the topmost field of each name, looked up in one pass.
    first = {name: fields[name][0].unfolded for name in _IDENTITY_FIELDS if name in fields}

    for key, name in (("from", "from"), ("sender", "sender"), ("reply_to", "reply-to")):
        value = first.get(name)
        if value is not None:
            mailbox, count = _mailbox(value)
            if mailbox is not None:
                identities[key] = mailbox
            if key == "from":
                # RFC 7489 section 6.6.1 leaves a From with several mailboxes to local policy
                # (reject, or check each domain), so the address count matters too.
                identities["from_address_count"] = count

    return_path = first.get("return-path")
    if return_path is not None:
        identities["return_path"] = _return_path(return_path)

    message_id = first.get("message-id")
    if message_id is not None:
        host = _message_id_host(message_id)
        if host is not None:
            identities["message_id_host"] = host

    feedback = first.get("feedback-id")
    if feedback is not None:
        identities["feedback_id"] = parse_feedback_id(feedback, "Feedback-ID")
    else:
        feedback = first.get("x-feedback-id")
        if feedback is not None:
            identities["feedback_id"] = parse_feedback_id(feedback, "X-Feedback-ID")

    # facts/esp weighs this evidence again once the receiver's verdicts are known
    # (add_receiver_evidence), because those can confirm or contradict it.
    weigh(identities, _esp_evidence(identities, first.get("x-ses-outgoing"), fields.get("dkim-signature", ())))

    list_id_value = first.get("list-id")
    if list_id_value is not None:
        list_id = _list_id(list_id_value, identities.get("from"))
        if list_id is not None:
            identities["list_id"] = list_id
    return identities


def _esp_evidence(identities: dict, ses_outgoing: str | None, signatures: list[Header]) -> list[dict]:
    """List the header fields that name a sending service, each with its strength.

    SES adds Feedback-ID and X-SES-Outgoing to every message it sends, and with the default
    MAIL FROM uses a Return-Path under amazonses.com (Amazon SES Developer Guide, "Email
    authentication methods" and "Using a custom MAIL FROM domain"): strong evidence. A
    Message-ID under amazonses.com is weak, because the program that creates the message
    chooses the Message-ID, and can reuse one from an earlier SES message. A DKIM-Signature
    field is weak until the receiver's dkim=pass confirms it. The order (Feedback-ID, X-SES-Outgoing,
    Message-ID, Return-Path, DKIM-Signature) decides which strong field names the service.
    `ses_outgoing` is the X-SES-Outgoing value, and `signatures` the DKIM-Signature fields.
    """
    evidence = []
    feedback = identities.get("feedback_id")
    if feedback is not None and feedback.get("esp"):
        evidence.append(evidence_entry(feedback["field"], feedback["raw"], feedback["esp"], STRONG))

    # SES writes X-SES-Outgoing as "2024.12.02-192.0.2.11".
    if ses_outgoing is not None:
        evidence.append(evidence_entry("X-SES-Outgoing", ses_outgoing, "amazonses", STRONG))

    host = identities.get("message_id_host")
    provider = provider_of(host)
    if provider is not None:
        evidence.append(evidence_entry("Message-ID", host, provider, WEAK))

    return_path = identities.get("return_path")
    domain = return_path.get("domain") if return_path is not None else None
    provider = provider_of(domain)
    if provider is not None:
        evidence.append(evidence_entry("Return-Path", domain, provider, STRONG))

    for header in signatures:
        value = header.unfolded
        match = _DKIM_FIRST_DOMAIN.match(value) or _DKIM_LATER_DOMAIN.search(value)
        signer = normalise(match.group(1)) if match else None
        provider = provider_of(signer)
        if provider is not None:
            evidence.append(evidence_entry("DKIM-Signature", f"d={signer}", provider, WEAK))
    return evidence


def _list_id(value: str, from_mailbox: dict | None) -> dict | None:
    """Parse List-Id into {raw, id, description, org_domain, from_aligned, esp}.

    `from_aligned` is true when the list identifier shares the From organisational domain
    (the sender runs the list), and `esp` names a sending service whose domain the
    identifier uses (a newsletter platform's campaign list).
    """
    match = _LIST_ID.match(decode_words(value))
    if match is None:
        log.debug("List-Id %r has no <list-id>", value)
        return None
    list_id = match["id"].lower().rstrip(".")
    result: dict = {"raw": value, "id": list_id, "description": match["description"].strip('" ')}
    organisational = org_domain(list_id)
    if organisational:
        result["org_domain"] = organisational
        from_org = (from_mailbox or {}).get("org_domain")
        if from_org:
            result["from_aligned"] = organisational == from_org
    esp = provider_of(list_id)
    if esp is not None:
        result["esp"] = esp
    return result


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded words, decoding malformed ones as far as possible."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        # decode_header raises on an unknown charset or broken base64. The policy's header
        # parser records those as defects and keeps the text instead.
        log.debug("malformed encoded word in %r, decoded leniently", text)
        return str(policy.default.header_factory("X-Display-Name", text))


def mailbox_dict(address: str, display_name: str = "") -> dict:
    """Build the {address, display_name, domain, org_domain} shape of docs/facts.md."""
    # decode_words checks for "=?" too, but most names have none, so the call is skipped.
    result: dict = {"address": address, "display_name": decode_words(display_name) if "=?" in display_name else display_name}
    local, at, domain = address.rpartition("@")
    domain = normalise(domain.strip("[]")) if at else None
    if domain:
        result["address"] = f"{local}@{domain}"
        result["domain"] = domain
        result["org_domain"] = org_domain(domain)
    return result


def _mailbox(value: str) -> tuple[dict | None, int]:
    """Return the first mailbox of an address field and how many addresses it holds."""
    simple = _SIMPLE_MAILBOX.fullmatch(value)
    if simple is not None:
        if simple["bare"]:
            return mailbox_dict(simple["bare"]), 1
        name = simple["quoted"] if simple["quoted"] is not None else simple["phrase"]
        return mailbox_dict(simple["angle"], name.strip()), 1

    pairs = [(name, address) for name, address in getaddresses([value]) if address]
    if pairs:
        name, address = next(((name, address) for name, address in pairs if "@" in address), pairs[0])
        return mailbox_dict(address, name), len(pairs)

    match = _ANGLE_ADDRESS.search(value) or _BARE_ADDRESS.search(value)
    if match is not None:
        return mailbox_dict(match.group(1)), 1
    return None, 0


def _return_path(value: str) -> dict:
    """Parse Return-Path, where "<>" is the null reverse-path of a bounce (RFC 5321 section 4.5.5)."""
    if value.replace(" ", "") == "<>":
        return {"address": "", "display_name": "", "null": True}
    mailbox, _count = _mailbox(value)
    return mailbox if mailbox is not None else {"address": value, "display_name": ""}


def _message_id_host(value: str) -> str | None:
    match = _MESSAGE_ID_HOST.search(value)
    if match is None:
        return None
    return normalise(match.group(1).strip("[]"))


def parse_feedback_id(value: str, field: str = "Feedback-ID") -> dict:
    """Parse a Feedback-ID in Gmail's "a:b:c:SenderId" form, SES's included.

    Gmail's Feedback Loop documentation defines colon-separated fields whose last one is
    the sender id. SES uses the sender id "AmazonSES" and puts the region in the field
    before it.
    """
    parts = [part.strip() for part in value.strip().split(":")]
    sender_id = parts[-1] if len(parts) > 1 else None
    result: dict = {"raw": value, "field": field, "fields": parts[:-1] if sender_id else parts}
    if sender_id:
        result["sender_id"] = sender_id

    esp = _esp_of_sender_id(sender_id)
    if esp is not None:
        result["esp"] = esp
    if esp == "amazonses" and len(parts) >= 2:
        match = _SES_FIELD.match(parts[-2])
        if match is not None:
            result["region"] = match.group(1).lower()
    return result


def _esp_of_sender_id(sender_id: str | None) -> str | None:
    """Map a Feedback-ID sender id to a provider key of rules/tables/esp.yaml."""
    if not sender_id:
        return None
    key = sender_id.lower()
    return key if key in provider_names() else None
