"""Identity fields: addresses, Return-Path, Message-ID, Feedback-ID and the sending service."""

from email import policy
from email.parser import BytesHeaderParser

import pytest

from diag.engine.loader import load_rules
from diag.facts import esp, identities
from diag.facts.build import build_facts
from diag.messages.reader import read_message
from diag.messages.model import Header
from diag.pipeline import AnalyzeOptions, analyze_bytes

RULES = load_rules([])


def headers_of(*fields: tuple[str, str]) -> list[Header]:
    return [Header(name, value, position) for position, (name, value) in enumerate(fields)]


def parse_block(block: bytes) -> list[Header]:
    message = BytesHeaderParser(policy=policy.compat32).parsebytes(block)
    return [Header(name, value, position) for position, (name, value) in enumerate(message.items())]


def test_from_encoded_display_name():
    facts = identities.collect(headers_of(("From", "=?utf-8?q?J=C3=B6rg_Example?= <jorg@Mail.Example.COM>")))
    assert facts["from"]["display_name"] == "Jörg Example"
    assert facts["from"]["address"] == "jorg@mail.example.com"
    assert facts["from"]["domain"] == "mail.example.com"
    assert facts["from"]["org_domain"] == "example.com"
    assert facts["from_count"] == 1
    assert facts["from_address_count"] == 1


@pytest.mark.parametrize(
    "value,display_name",
    [
        ("=?bogus-charset?q?Jordan?= <jordan@example.com>", "Jordan"),
        ("=?UTF 8?B?Sm9yZGFu?= <jordan@example.com>", "Jordan"),
        ("=?utf-8?q?unterminated <jordan@example.com>", "=?utf-8?q?unterminated"),
        ("=?utf-8?b?Sm9yZGFu?=", ""),
    ],
)
def test_from_malformed_encoded_word(value, display_name):
    facts = identities.collect(headers_of(("From", value)))
    assert facts["from"]["display_name"] == display_name


def test_from_counted():
    facts = identities.collect(headers_of(("From", "a@example.com"), ("From", "b@example.org")))
    assert facts["from_count"] == 2
    assert facts["from"]["address"] == "a@example.com"


def test_from_mailbox_list():
    facts = identities.collect(headers_of(("From", "a@example.com, Jordan <b@example.org>")))
    assert facts["from_count"] == 1
    assert facts["from_address_count"] == 2


def test_from_missing():
    facts = identities.collect(headers_of(("To", "a@example.com")))
    assert facts == {"from_count": 0}


def test_from_group_without_address():
    facts = identities.collect(headers_of(("From", "undisclosed-recipients:;")))
    assert facts["from_count"] == 1
    assert "from" not in facts


def test_from_without_domain():
    facts = identities.collect(headers_of(("From", "MAILER-DAEMON")))
    assert facts["from"]["address"] == "MAILER-DAEMON"
    assert "domain" not in facts["from"]


def test_from_unclosed_angle():
    facts = identities.collect(headers_of(("From", "Jordan <jordan@example.com")))
    assert facts["from"]["address"] == "jordan@example.com"


def test_sender_and_reply_to():
    facts = identities.collect(headers_of(
        ("Sender", '"Example List" <list-bounces@lists.example.org>'),
        ("Reply-To", "Jordan Doe <jordan@example.net>, team@example.net"),
    ))
    assert facts["sender"]["address"] == "list-bounces@lists.example.org"
    assert facts["sender"]["display_name"] == "Example List"
    assert facts["sender"]["org_domain"] == "example.org"
    assert facts["reply_to"]["address"] == "jordan@example.net"


def test_return_path_folded():
    headers = parse_block(
        b"Return-Path:\r\n 010f0193898333b2-294e9589-000000@us-east-2.amazonses.com\r\n"
        b"From: Billing <billing@example.com>\r\n\r\n"
    )
    facts = identities.collect(headers)
    assert facts["return_path"]["address"] == "010f0193898333b2-294e9589-000000@us-east-2.amazonses.com"
    assert facts["return_path"]["domain"] == "us-east-2.amazonses.com"
    assert facts["return_path"]["org_domain"] == "amazonses.com"
    assert facts["esp"] == "amazonses"
    assert facts["esp_source"] == "Return-Path"


def test_return_path_null():
    facts = identities.collect(headers_of(("Return-Path", "<>")))
    assert facts["return_path"]["address"] == ""
    assert facts["return_path"]["null"] is True
    assert "domain" not in facts["return_path"]


def test_return_path_topmost():
    facts = identities.collect(headers_of(("Return-Path", "<a@example.com>"), ("Return-Path", "<b@example.org>")))
    assert facts["return_path"]["address"] == "a@example.com"


@pytest.mark.parametrize(
    "value,host",
    [
        ("<20241203.1234@Mail.Example.NET>", "mail.example.net"),
        ("<0100018f-abc@email.amazonses.com>", "email.amazonses.com"),
        ("  <a@example.org> ", "example.org"),
        ("<a@[192.0.2.1]>", "192.0.2.1"),
    ],
)
def test_message_id_host(value, host):
    assert identities.collect(headers_of(("Message-ID", value)))["message_id_host"] == host


def test_message_id_without_host():
    assert "message_id_host" not in identities.collect(headers_of(("Message-ID", "<no-at-sign>")))


@pytest.mark.parametrize(
    "value,region,fields",
    [
        ("1.us-east-1.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdef=:AmazonSES", "us-east-1", ["1.us-east-1.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdef="]),
        ("::1.eu-west-2.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdef=:AmazonSES", "eu-west-2", ["", "", "1.eu-west-2.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdef="]),
        ("1.us-gov-west-1.AbCd=:AmazonSES", "us-gov-west-1", ["1.us-gov-west-1.AbCd="]),
        ("1.ap-southeast-2.AbCd=:amazonses", "ap-southeast-2", ["1.ap-southeast-2.AbCd="]),
    ],
)
def test_feedback_id_ses(value, region, fields):
    facts = identities.collect(headers_of(("Feedback-ID", value)))
    assert facts["feedback_id"]["raw"] == value
    assert facts["feedback_id"]["region"] == region
    assert facts["feedback_id"]["fields"] == fields
    assert facts["feedback_id"]["esp"] == "amazonses"
    assert facts["esp"] == "amazonses"
    assert facts["esp_source"] == "Feedback-ID"


def test_feedback_id_gmail_form():
    feedback = identities.parse_feedback_id("campaign42:customer7:newsletter:ExampleSender")
    assert feedback["fields"] == ["campaign42", "customer7", "newsletter"]
    assert feedback["sender_id"] == "ExampleSender"
    assert "esp" not in feedback
    assert "region" not in feedback


def test_feedback_id_single_field():
    feedback = identities.parse_feedback_id("just-one-value")
    assert feedback["fields"] == ["just-one-value"]
    assert "sender_id" not in feedback


def test_feedback_id_x_header():
    facts = identities.collect(headers_of(("X-Feedback-Id", "5e1c71caf81e3cfda23f6a56:mailgun")))
    assert facts["feedback_id"]["field"] == "X-Feedback-ID"
    assert facts["esp"] == "mailgun"


def test_feedback_id_prefers_standard_field():
    facts = identities.collect(headers_of(
        ("X-Feedback-Id", "abc:mailgun"),
        ("Feedback-ID", "1.us-west-2.AbCd=:AmazonSES"),
    ))
    assert facts["feedback_id"]["field"] == "Feedback-ID"
    assert facts["feedback_id"]["region"] == "us-west-2"


def test_esp_from_ses_outgoing():
    facts = identities.collect(headers_of(("X-SES-Outgoing", "2024.12.02-192.0.2.11")))
    assert facts["esp"] == "amazonses"
    assert facts["esp_source"] == "X-SES-Outgoing"


def test_message_id_alone_weak():
    facts = identities.collect(headers_of(("Message-ID", "<0100018f-abc@email.amazonses.com>")))
    assert "esp" not in facts
    assert "ses_markers" not in facts
    assert facts["esp_unconfirmed"] == "amazonses"
    assert facts["esp_evidence"] == [
        {"field": "Message-ID", "value": "email.amazonses.com", "esp": "amazonses", "strength": "weak"}
    ]


def test_dkim_field_alone_weak():
    facts = identities.collect(headers_of(
        ("DKIM-Signature", "v=1; a=rsa-sha256; d=example.com; s=s1; b=AAAA"),
        ("DKIM-Signature", "v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n d=sendgrid.net; s=smtpapi; b=BBBB"),
    ))
    assert "esp" not in facts
    assert facts["esp_unconfirmed"] == "sendgrid"


def test_dkim_pass_confirms_esp():
    facts = identities.collect(headers_of(
        ("DKIM-Signature", "v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n d=sendgrid.net; s=smtpapi; b=BBBB"),
    ))
    esp.add_receiver_evidence(facts, {"dkim": [{"domain": "sendgrid.net", "result": "pass", "esp": "sendgrid"}]})
    assert facts["esp"] == "sendgrid"
    assert facts["esp_source"] == "DKIM-Signature"
    assert facts["esp_evidence"][0]["strength"] == "strong"
    assert "esp_unconfirmed" not in facts


def test_dkim_domain_first_tag():
    facts = identities.collect(headers_of(("DKIM-Signature", " d=sendgrid.net; v=1; a=rsa-sha256; s=smtpapi; b=BBBB")))
    assert facts["esp_unconfirmed"] == "sendgrid"
    assert facts["esp_evidence"][0]["value"] == "d=sendgrid.net"


def test_dkim_pass_keeps_old_evidence():
    facts = identities.collect(headers_of(
        ("DKIM-Signature", "v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n d=sendgrid.net; s=smtpapi; b=BBBB"),
    ))
    before = facts["esp_evidence"]
    esp.add_receiver_evidence(facts, {"dkim": [{"domain": "sendgrid.net", "result": "pass", "esp": "sendgrid"}]})
    assert facts["esp_evidence"] is not before
    assert before[0]["strength"] == "weak"
    assert before[0]["value"] == "d=sendgrid.net"
    assert facts["esp_evidence"][0]["value"] == "d=sendgrid.net (dkim=pass at the receiver)"


def test_esp_absent():
    facts = identities.collect(headers_of(("From", "a@example.com"), ("Message-ID", "<x@example.com>")))
    assert "esp" not in facts


def test_list_id_third_party():
    facts = identities.collect(headers_of(("From", "a@example.com"), ("List-Id", "Accounts forum <ap-forum.lists.example.org>")))
    assert facts["list_id"]["id"] == "ap-forum.lists.example.org"
    assert facts["list_id"]["description"] == "Accounts forum"
    assert facts["list_id"]["org_domain"] == "example.org"
    assert facts["list_id"]["from_aligned"] is False
    assert "esp" not in facts["list_id"]


def test_list_id_own_domain():
    facts = identities.collect(headers_of(("From", "news@example.com"), ("List-Id", "<newsletter.example.com>")))
    assert facts["list_id"]["from_aligned"] is True


def test_list_id_sending_service():
    facts = identities.collect(headers_of(("From", "news@example.com"), ("List-Id", "<a1b2c3.123.list-id.mcsv.net>")))
    assert facts["list_id"]["esp"] == "mailchimp"


def test_list_id_without_angle_brackets():
    facts = identities.collect(headers_of(("From", "a@example.com"), ("List-Id", "just text")))
    assert "list_id" not in facts


def test_ses_markers_listed():
    facts = identities.collect(headers_of(
        ("From", "a@example.com"),
        ("Feedback-ID", "::1.eu-west-1.abc=:AmazonSES"),
        ("X-SES-Outgoing", "2026.11.04-198.51.100.20"),
        ("Message-ID", "<0102-000000@eu-west-1.amazonses.com>"),
    ))
    assert facts["ses_markers"] == ["Feedback-ID", "X-SES-Outgoing", "Message-ID"]


def test_ses_markers_absent_for_own_server():
    facts = identities.collect(headers_of(
        ("From", "erp@example.com"),
        ("Return-Path", "<erp@example.com>"),
        ("Message-ID", "<1@erp01.corp.example.com>"),
    ))
    assert "ses_markers" not in facts
    assert "esp" not in facts


# An application server that delivers straight to Microsoft 365 and copies an SES-style
# Message-ID from an earlier message.
DIRECT_WITH_SES_MESSAGE_ID = """\
Return-Path: <erp@example.org>
Received: from erp.example.org (203.0.113.10)
 by DB8PEPF00000A11.eurprd04.prod.outlook.com (10.167.242.61) with Microsoft SMTP Server
 id 15.20.8137.17; Fri, 6 Nov 2026 04:57:16 +0000
Authentication-Results: spf=fail (sender IP is 203.0.113.10)
 smtp.mailfrom=example.org; dkim=none (message not signed)
 header.d=none;dmarc=fail action=oreject header.from=example.org;compauth=fail reason=000
X-Forefront-Antispam-Report: CIP:203.0.113.10;CTRY:DE;LANG:en;SCL:9;SRV:;IPV:NLI;SFV:SPM;H:erp.example.org;PTR:erp.example.org;CAT:SPOOF;SFS:(13230040);DIR:INB;
From: Accounts <invoices@example.org>
To: ap@example.net
Subject: Invoice 27
Date: Fri, 6 Nov 2026 04:57:15 +0000
Message-ID: <0102019417c7469b-000000@eu-west-1.amazonses.com>

"""


def test_direct_client_conflicts_with_message_id():
    facts = build_facts(read_message(DIRECT_WITH_SES_MESSAGE_ID.encode(), source="test"))["identities"]
    assert "esp" not in facts
    assert facts["esp_unconfirmed"] == "amazonses"
    assert facts["esp_conflict"] is True
    assert {"field": "Received", "value": "erp.example.org (203.0.113.10)", "strength": "strong"} in facts["esp_evidence"]


def test_direct_client_no_ses_spf_advice():
    report = analyze_bytes(DIRECT_WITH_SES_MESSAGE_ID.encode(), source="test", options=AnalyzeOptions(rules=RULES))
    finding = next(finding for finding in report["findings"] if finding["name"] == "spf-fail")
    fix = " ".join(finding["fix"])
    assert "include:amazonses.com" not in fix
    assert "ip4:203.0.113.10" in fix
    assert "not a server of Amazon SES" in finding["message"]


def test_ses_client_confirms_esp():
    ses_host = "a25-7.smtp-out.eu-west-1.amazonses.com"
    block = DIRECT_WITH_SES_MESSAGE_ID.replace("from erp.example.org", f"from {ses_host}")
    block = block.replace("H:erp.example.org;PTR:erp.example.org", f"H:{ses_host};PTR:{ses_host}")
    facts = build_facts(read_message(block.encode(), source="test"))["identities"]
    assert facts["esp"] == "amazonses"
    assert facts["esp_source"] == "Received"
    assert facts["ses_markers"] == ["Message-ID", "Received"]
    assert "esp_conflict" not in facts


def test_feedback_id_with_relay_conflicts():
    block = DIRECT_WITH_SES_MESSAGE_ID.replace("From: Accounts", "Feedback-ID: 1.eu-west-1.abc=:AmazonSES\nFrom: Accounts")
    facts = build_facts(read_message(block.encode(), source="test"))["identities"]
    assert facts["esp"] == "amazonses"
    assert facts["esp_source"] == "Feedback-ID"
    assert facts["esp_conflict"] is True
