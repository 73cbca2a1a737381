"""Microsoft 365 anti-spam fields and their decoding tables."""

from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from diag.facts import microsoft, tables
from diag.messages.model import Header

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "headers"


def read_headers(name: str) -> list[Header]:
    message = BytesHeaderParser(policy=policy.compat32).parsebytes((SAMPLES / name).read_bytes())
    return [Header(key, str(value), index) for index, (key, value) in enumerate(message.items())]


def test_receiver_report_is_topmost():
    facts = microsoft.collect(read_headers("auth-m365-inbound-two-tenants.txt"))
    assert facts["dir"] == "INB"
    assert facts["cat"] == "SPOOF"
    assert facts["sfv"] == "SPM"
    assert facts["scl"] == 5
    assert facts["scl_source"] == "X-Forefront-Antispam-Report"
    assert facts["bcl"] == 3
    assert facts["cip"] == "192.0.2.10"
    assert facts["sfty"] == "9.25"
    assert "ctry" in facts
    assert "srv" not in facts


def test_duplicate_reports_listed():
    facts = microsoft.collect(read_headers("auth-m365-inbound-two-tenants.txt"))
    assert facts["duplicates"] == ["X-Forefront-Antispam-Report", "X-Microsoft-Antispam"]
    assert [report["dir"] for report in facts["reports"]] == ["INB", "OUT"]


def test_mailbox_delivery_and_organization():
    facts = microsoft.collect(read_headers("auth-m365-inbound-two-tenants.txt"))
    assert facts["mailbox_delivery"]["dest"] == "J"
    assert facts["mailbox_delivery"]["ofr"] == "SpamFilterAuthJ"
    assert facts["organization_scl"] == 5
    assert facts["auth_as"] == "Anonymous"


def test_decoded_values():
    decoded = microsoft.collect(read_headers("auth-m365-inbound-two-tenants.txt"))["decoded"]
    assert decoded["cat"]["meaning"].startswith("Spoofing")
    assert decoded["cat"]["documented"] is True
    assert decoded["cat"]["doc_date"] == "2026-07-27"
    assert decoded["scl"]["group"] == "spam"
    assert decoded["bcl"]["group"] == "few_complaints"
    assert decoded["sfty"]["source"] == "https://learn.microsoft.com/en-us/defender-office-365/message-headers-eop-mdo"


def test_repeated_key_in_report():
    headers = [Header("X-Forefront-Antispam-Report", "CIP:192.0.2.1;SCL:-1;SCL:1;SFV:NSPM;", 0)]
    facts = microsoft.collect(headers)
    assert facts["scl"] == -1
    assert facts["duplicates"] == ["X-Forefront-Antispam-Report:SCL"]


def test_untrusted_report_not_used():
    headers = [Header("X-Forefront-Antispam-Report-Untrusted", "CIP:192.0.2.1;SCL:-1;SFV:NSPM;", 0)]
    facts = microsoft.collect(headers)
    assert "scl" not in facts
    assert "sfv" not in facts
    assert facts["untrusted_report"]["fields"]["SFV"] == "NSPM"


def test_organization_scl_fallback():
    facts = microsoft.collect([Header("X-MS-Exchange-Organization-SCL", "6", 0)])
    assert facts["scl"] == 6
    assert facts["scl_source"] == "X-MS-Exchange-Organization-SCL"


def test_sfv_ski_allow_list():
    decoded = tables.decode_code("sfv", "SKI")
    assert decoded["documented"] is True
    assert decoded["doc_date"] == "2026-07-27"
    assert "IP Allow List" in decoded["meaning"]


def test_cat_none_undocumented():
    decoded = tables.decode_code("cat", "NONE")
    assert decoded["documented"] is False
    assert decoded["meaning"].startswith("No threat category")


def test_unknown_code():
    assert tables.decode_code("sfv", "XYZ") == {
        "value": "XYZ", "meaning": None, "documented": False, "source": None, "doc_date": None,
    }


def test_compauth_groups():
    assert tables.decode_compauth("130")["meaning"].startswith("The message passed authentication because the ARC result of a trusted ARC sealer")
    assert tables.decode_compauth("116")["group"] == "pass"
    assert tables.decode_compauth("702")["group"] == "pass"
    assert tables.decode_compauth("905")["group"] == "bypassed"
    assert tables.decode_compauth("601")["group"] == "fail"
    assert tables.decode_compauth("802")["documented"] is False
    assert tables.decode_compauth("050")["documented"] is False
    assert tables.decode_compauth("1")["documented"] is False


def test_compauth_codes_2026():
    assert tables.decode_compauth("111")["meaning"].startswith("DMARC gave a temporary or permanent error")
    assert tables.decode_compauth("116")["meaning"].startswith("The MX record of the From domain")
    assert tables.decode_compauth("501")["documented"] is True
    assert "group" not in tables.decode_compauth("501")
    assert tables.decode_compauth("503")["documented"] is False
    assert tables.decode_compauth("650")["meaning"] == "The message failed implicit authentication (6xx)."
    assert tables.decode_compauth("101")["doc_date"] == "2026-07-27"


def test_scl_unstamped_values():
    assert tables.decode_level("scl", 3)["documented"] is False
    assert tables.decode_level("bcl", 9)["group"] == "many_complaints"


def test_dest_junk_decoded():
    decoded = microsoft.collect(read_headers("auth-m365-inbound-two-tenants.txt"))["decoded"]
    assert decoded["dest"]["value"] == "J"
    assert decoded["dest"]["meaning"] == "Junk Email folder."


def test_dest_undocumented():
    decoded = tables.decode_code("dest", "J")
    assert decoded["documented"] is False
    assert "Not documented by Microsoft" in decoded["note"]


def test_dest_inbox():
    headers = [Header("X-Microsoft-Antispam-Mailbox-Delivery", "ucf:0;jmr:0;auth:0;dest:I;ENG:(910005);", 0)]
    decoded = microsoft.collect(headers)["decoded"]
    assert decoded["dest"]["meaning"] == "Inbox."


def test_dest_unknown_value():
    headers = [Header("X-Microsoft-Antispam-Mailbox-Delivery", "dest:Q;", 0)]
    decoded = microsoft.collect(headers)["decoded"]
    assert decoded["dest"]["meaning"] is None
    assert decoded["dest"]["documented"] is False


def test_scl_not_spam_states_action():
    meaning = tables.decode_level("scl", 1)["meaning"]
    assert "delivered to the Inbox" not in meaning
    assert "action is delivery to the Inbox" in meaning


def test_sfv_nspm_not_delivered():
    assert "delivered" not in tables.decode_code("sfv", "NSPM")["meaning"]


def test_cat_none_provenance_in_note():
    decoded = tables.decode_code("cat", "NONE")
    assert decoded["meaning"] == "No threat category was applied."
    assert "revision" not in decoded["meaning"]
    assert "earlier revision" in decoded["note"]
