"""Read the Microsoft 365 anti-spam header fields and decode them with rules/tables/*.yaml.

Sources: Microsoft Learn "Anti-spam message headers in cloud organizations"
(https://learn.microsoft.com/en-us/defender-office-365/message-headers-eop-mdo),
"Spam confidence level (SCL)" and "Bulk complaint level (BCL)".

When a message carries more than one X-Forefront-Antispam-Report (the sending tenant's
outbound report and the receiving tenant's inbound one), the topmost is the receiver's,
because each system prepends its fields. Only that one fills microsoft.*. Every report is
listed in microsoft.reports with its DIR, so that an outbound-only report stands out.
X-Forefront-Antispam-Report-Untrusted is a copy that Exchange keeps when the message
crossed an untrusted boundary; it is listed but never read as the verdict.
"""

import logging

from diag.facts import tables
from diag.messages.model import Header, fields_by_name

log = logging.getLogger(__name__)

REPORT = "x-forefront-antispam-report"
UNTRUSTED_REPORT = "x-forefront-antispam-report-untrusted"
ANTISPAM = "x-microsoft-antispam"
MAILBOX_DELIVERY = "x-microsoft-antispam-mailbox-delivery"

# Report fields copied to microsoft.<lower-case name> as strings.
_TEXT_FIELDS = ("CAT", "SFV", "IPV", "CIP", "CTRY", "LANG", "SRV", "H", "PTR", "SFS", "DIR", "SFTY")
# Fields decoded with a table of the same name.
_CODE_TABLES = {"CAT": "cat", "SFV": "sfv", "IPV": "ipv", "SFTY": "sfty"}


def parse_fields(value: str) -> tuple[dict[str, str], list[str]]:
    """Split `KEY:value;KEY:value;` into a dict with upper-case keys, first value kept,
    and the list of keys that appeared more than once."""
    fields: dict[str, str] = {}
    repeated = []
    for item in value.split(";"):
        key, colon, field_value = item.partition(":")
        key = key.strip().upper()
        if not key or not colon:
            continue
        if key in fields:
            repeated.append(key)
            continue
        fields[key] = field_value.strip()
    return fields, repeated


def _int_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return None


def _report_facts(fields: dict[str, str]) -> tuple[dict, dict]:
    """Return (microsoft.* values, microsoft.decoded.*) from one X-Forefront-Antispam-Report."""
    facts: dict = {}
    decoded: dict = {}
    for key in _TEXT_FIELDS:
        # An empty field (CTRY:;) means Microsoft recorded nothing, so the fact is absent.
        if fields.get(key):
            facts[key.lower()] = fields[key]
    for key, table in _CODE_TABLES.items():
        if fields.get(key):
            decoded[key.lower()] = tables.decode_code(table, fields[key])

    scl = _int_or_none(fields.get("SCL"))
    if scl is not None:
        facts["scl"] = scl
        facts["scl_source"] = "X-Forefront-Antispam-Report"
        decoded["scl"] = tables.decode_level("scl", scl)
    return facts, decoded


def collect(headers: list[Header]) -> dict:
    """Return microsoft.*: the receiver's Forefront report, BCL and mailbox delivery fields."""
    by_name = fields_by_name(headers)

    facts: dict = {}
    decoded: dict = {}
    duplicates = []

    reports = by_name.get(REPORT, [])
    if reports:
        listed = []
        for header in reports:
            fields, repeated = parse_fields(header.unfolded)
            listed.append({"position": header.position, "dir": fields.get("DIR") or None, "fields": fields})
            if header is reports[0]:
                top_fields, top_repeated = fields, repeated
        facts["reports"] = listed
        values, decoded = _report_facts(top_fields)
        facts.update(values)
        duplicates += [f"X-Forefront-Antispam-Report:{key}" for key in top_repeated]
        if len(reports) > 1:
            duplicates.append("X-Forefront-Antispam-Report")

    untrusted = by_name.get(UNTRUSTED_REPORT, [])
    if untrusted:
        fields, repeated = parse_fields(untrusted[0].unfolded)
        facts["untrusted_report"] = {"position": untrusted[0].position, "fields": fields, "repeated": repeated}

    antispam = by_name.get(ANTISPAM, [])
    if antispam:
        fields, _ = parse_fields(antispam[0].unfolded)
        bcl = _int_or_none(fields.get("BCL"))
        if bcl is not None:
            facts["bcl"] = bcl
            decoded["bcl"] = tables.decode_level("bcl", bcl)
        if len(antispam) > 1:
            duplicates.append("X-Microsoft-Antispam")

    delivery = by_name.get(MAILBOX_DELIVERY, [])
    if delivery:
        # ucf, jmr, dest, RF, OFR and others: Microsoft documents none of them, so they are
        # reported as written. Only dest is decoded, from rules/tables/dest.yaml, whose
        # entries carry documented: false (I and J as seen in real headers).
        fields, _ = parse_fields(delivery[0].unfolded)
        facts["mailbox_delivery"] = {key.lower(): value for key, value in fields.items()}
        if fields.get("DEST"):
            decoded["dest"] = tables.decode_code("dest", fields["DEST"])

    organization_scl = by_name.get("x-ms-exchange-organization-scl", [])
    if organization_scl:
        value = _int_or_none(organization_scl[0].unfolded)
        if value is not None:
            facts["organization_scl"] = value
            if "scl" not in facts:
                facts["scl"] = value
                facts["scl_source"] = "X-MS-Exchange-Organization-SCL"
                decoded["scl"] = tables.decode_level("scl", value)
    for name, key in (("x-ms-exchange-organization-authas", "auth_as"),
                      ("x-ms-exchange-organization-authsource", "auth_source")):
        if by_name.get(name):
            facts[key] = by_name[name][0].unfolded

    if decoded:
        facts["decoded"] = decoded
    if duplicates:
        facts["duplicates"] = duplicates
    return facts
