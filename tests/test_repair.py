"""Damaged pastes under samples/headers/paste-*.txt: field names, unfolded values and repairs."""

from pathlib import Path

import pytest

from diag.errors import InputError
from diag.facts.build import build_facts
from diag.messages.names import is_text_word
from diag.messages.reader import read_message
from diag.messages.repair import is_lost_fold, match_field

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# sample file -> (expected [(name, unfolded value)], expected [(repair kind, line)])
# The fields of the statement pastes, which differ only in where their blank lines are.
STATEMENT_FIELDS = [
    ("Received", "from AM9PR04MB8000.eurprd04.prod.outlook.com (2603:10a6:20b:3e0::14) by DB9PR04MB9000.eurprd04.prod.outlook.com with HTTPS; Thu, 3 Dec 2026 08:41:22 +0000"),
    ("Authentication-Results", "spf=pass (sender IP is 198.51.100.44) smtp.mailfrom=eu-west-1.amazonses.com; dkim=pass (signature was verified) header.d=amazonses.com;dmarc=fail action=quarantine header.from=example.org;compauth=fail reason=000"),
    ("From", "Example Org Billing <billing@example.org>"),
    ("To", "Accounts Payable <ap@example.net>"),
    ("Subject", "Statement for November"),
    ("Date", "Thu, 3 Dec 2026 08:41:19 +0000"),
    ("MIME-Version", "1.0"),
    ("Content-Type", "multipart/mixed; boundary=\"----=_Part_4471_1186922.1796287279000\""),
    ("Message-ID", "<0102019a4b1c2d3e-5f6a7b8c-1d2e-4f5a-9b8c-7d6e5f4a3b2c-000000@eu-west-1.amazonses.com>"),
    ("Feedback-ID", "::1.eu-west-1.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbC=:AmazonSES"),
    ("Received", "from a44-9.smtp-out.eu-west-1.amazonses.com (198.51.100.44) by AM2PEPF0001C70E.mail.protection.outlook.com (10.167.16.196) with Microsoft SMTP Server (version=TLS1_3, cipher=TLS_AES_256_GCM_SHA384) id 15.20.8722.20 via Frontend Transport; Thu, 3 Dec 2026 08:41:20 +0000"),
    ("X-MS-Exchange-Organization-SCL", "5"),
    ("X-Forefront-Antispam-Report", "CIP:198.51.100.44;CTRY:IE;LANG:en;SCL:5;SRV:;IPV:NLI;SFV:SPM;H:a44-9.smtp-out.eu-west-1.amazonses.com;PTR:a44-9.smtp-out.eu-west-1.amazonses.com;CAT:SPOOF;SFS:(13230040)(69100299015);DIR:INB;"),
    ("X-Microsoft-Antispam", "BCL:0;"),
]

CASES = {
    "paste-unindented-continuations.txt": (
        [
            (
                "Received",
                "from mail-out.example.net (198.51.100.20) by mx1.example.com (192.0.2.25) with Microsoft SMTP "
                "Server id 15.20.8207.18; Mon, 2 Dec 2024 22:34:58 +0000",
            ),
            (
                "Authentication-Results",
                "spf=pass (sender IP is 198.51.100.20) smtp.mailfrom=bounce.example.net; dkim=pass (signature was "
                "verified) header.d=example.net;dmarc=fail action=quarantine header.from=example.org;compauth=fail "
                "reason=000",
            ),
            ("X-Forefront-Antispam-Report", "CIP:198.51.100.20;CTRY:US;LANG:en;SCL:5;SRV:;IPV:NLI;SFV:SPM;"),
            ("From", "Sender <sender@example.org>"),
            ("Subject", "Quarterly report"),
        ],
        [("continuation", 2), ("continuation", 5), ("continuation", 9)],
    ),
    "paste-indented.txt": (
        [
            (
                "Received",
                "from mail-out.example.net (mail-out.example.net [198.51.100.20]) by mx.example.com (Postfix) "
                "with ESMTPS id 4ABC123 for <alice@example.com>; Mon, 2 Dec 2024 22:34:58 +0000",
            ),
            (
                "Authentication-Results",
                "mx.example.com;    dkim=pass header.d=example.net header.s=s1 header.b=AbCdEf12;    "
                "spf=pass smtp.mailfrom=bounce.example.net",
            ),
            ("From", "Sender <sender@example.net>"),
            ("Subject", "Indented paste"),
        ],
        [("indentation", 0), ("continuation", 2)],
    ),
    "paste-mixed-line-endings.txt": (
        [
            ("Received", "from mail-out.example.net (198.51.100.20)\tby mx.example.com with ESMTPS; Mon, 2 Dec 2024 22:34:58 +0000"),
            ("Authentication-Results", "mx.example.com; spf=pass smtp.mailfrom=example.net"),
            ("From", "sender@example.net"),
            ("Subject", "Mixed endings"),
        ],
        [("line-endings", 0)],
    ),
    "paste-bom.txt": (
        [
            ("Authentication-Results", "mx.example.com; dkim=pass header.d=example.org header.s=sel1"),
            ("From", "news@example.org"),
            ("Subject", "With a byte order mark"),
        ],
        [("bom", 1)],
    ),
    "paste-blank-inside-fold.txt": (
        [
            ("Received", "from AM9PR04MB8000.eurprd04.prod.outlook.com (2603:10a6:20b:3e0::14) by DB9PR04MB9000.eurprd04.prod.outlook.com with HTTPS; Thu, 3 Dec 2026 08:41:22 +0000"),
            ("Authentication-Results", "spf=pass (sender IP is 198.51.100.44) smtp.mailfrom=eu-west-1.amazonses.com; dkim=pass (signature was verified) header.d=amazonses.com;dmarc=fail action=quarantine header.from=example.org;compauth=fail reason=000"),
            ("Received-SPF", "Pass (protection.outlook.com: domain of eu-west-1.amazonses.com designates 198.51.100.44 as permitted sender) receiver=protection.outlook.com; client-ip=198.51.100.44; helo=a44-9.smtp-out.eu-west-1.amazonses.com; pr=C"),
            ("Received", "from a44-9.smtp-out.eu-west-1.amazonses.com (198.51.100.44) by AM2PEPF0001C70E.mail.protection.outlook.com (10.167.16.196) with Microsoft SMTP Server (version=TLS1_3, cipher=TLS_AES_256_GCM_SHA384) id 15.20.8722.20 via Frontend Transport; Thu, 3 Dec 2026 08:41:20 +0000"),
            ("From", "Example Org Billing <billing@example.org>"),
            ("To", "Accounts Payable <ap@example.net>"),
            ("Subject", "Statement for November"),
            ("Date", "Thu, 3 Dec 2026 08:41:19 +0000"),
            ("Message-ID", "<0102019a4b1c2d3e-5f6a7b8c-1d2e-4f5a-9b8c-7d6e5f4a3b2c-000000@eu-west-1.amazonses.com>"),
            ("Feedback-ID", "::1.eu-west-1.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbC=:AmazonSES"),
            ("X-MS-Exchange-Organization-SCL", "5"),
            ("X-Forefront-Antispam-Report", "CIP:198.51.100.44;CTRY:IE;LANG:en;SCL:5;SRV:;IPV:NLI;SFV:SPM;H:a44-9.smtp-out.eu-west-1.amazonses.com;PTR:a44-9.smtp-out.eu-west-1.amazonses.com;CAT:SPOOF;SFS:(13230040)(69100299015);DIR:INB;"),
            ("X-Microsoft-Antispam", "BCL:0;"),
        ],
        [("blank-line", 6)],
    ),
    "paste-blank-after-content-type.txt": (
        STATEMENT_FIELDS,
        [("blank-line", 15)],
    ),
    "paste-blank-after-each-field.txt": (
        STATEMENT_FIELDS,
        [("blank-line", 4), ("blank-line", 9), ("blank-line", 11), ("blank-line", 13), ("blank-line", 15), ("blank-line", 17), ("blank-line", 19), ("continuation", 21), ("blank-line", 22), ("blank-line", 24), ("blank-line", 26), ("blank-line", 31), ("blank-line", 33), ("blank-line", 36)],
    ),
    "paste-blank-lines.txt": (
        [
            ("From", "Sender <sender@example.org>"),
            ("To", "alice@example.com"),
            ("Subject", "Blank lines between fields"),
            ("Received", "from mail-out.example.net (198.51.100.20) by mx.example.com with ESMTPS; Mon, 2 Dec 2024 22:34:58 +0000"),
            (
                "Authentication-Results",
                "mx.example.com; dkim=pass header.d=example.org; spf=pass smtp.mailfrom=example.org; "
                "dmarc=pass header.from=example.org",
            ),
        ],
        [("blank-line", 4), ("blank-line", 7)],
    ),
    "paste-tab-rows.txt": (
        [
            (
                "Received",
                "from mail-out.example.net (198.51.100.20) by mx1.example.com (192.0.2.25) with Microsoft SMTP "
                "Server; Mon, 2 Dec 2024 22:34:58 +0000",
            ),
            (
                "Authentication-Results",
                "spf=pass (sender IP is 198.51.100.20) smtp.mailfrom=example.net; dkim=pass (signature was verified) "
                "header.d=example.net;dmarc=pass action=none header.from=example.net;compauth=pass reason=100",
            ),
            (
                "X-Forefront-Antispam-Report",
                "CIP:198.51.100.20;CTRY:US;LANG:en;SCL:1;SRV:;IPV:NLI;SFV:NSPM; "
                "H:mail-out.example.net;PTR:mail-out.example.net;CAT:NONE;",
            ),
            ("From", "News <news@example.net>"),
        ],
        [("table-heading", 1), ("table-rows", 2), ("continuation", 5)],
    ),
    "paste-numbered-rows.txt": (
        [
            ("MIME-Version", "1.0"),
            ("Received", "from mx1.example.com (192.0.2.25) by mx2.example.com with HTTPS; Mon, 2 Dec 2024 22:34:59 +0000"),
            (
                "Authentication-Results",
                "spf=fail (sender IP is 203.0.113.9) smtp.mailfrom=example.org; dkim=none (message not signed) "
                "header.d=none;dmarc=fail action=oreject header.from=example.org;compauth=fail reason=000",
            ),
            (
                "Received-SPF",
                "Fail (protection.example.com: domain of example.org does not designate 203.0.113.9 as permitted "
                "sender) receiver=protection.example.com; client-ip=203.0.113.9;",
            ),
            ("From", "payments@example.org"),
        ],
        [("table-rows", 1)],
    ),
    "paste-space-before-colon.txt": (
        [
            ("Authentication-Results", "mx.example.com; spf=softfail smtp.mailfrom=example.net"),
            ("Subject", "Invoice 1234"),
            ("From", "billing@example.net"),
        ],
        [("space-before-colon", 1), ("space-before-colon", 2)],
    ),
    "paste-truncated.txt": (
        [
            ("Received", "from mail-out.example.net (198.51.100.20) by mx.example.com with ESMTPS; Mon, 2 Dec 2024 22:34:58 +0000"),
            ("Authentication-Results", "mx.example.com; spf=pass smtp.mailfrom=example.net"),
            ("Return-Path", ""),
        ],
        [("truncated", 4)],
    ),
    "paste-truncated-name.txt": (
        [
            ("Authentication-Results", "mx.example.com; spf=pass smtp.mailfrom=example.net"),
            ("X-MS-PublicTrafficType", "Email"),
        ],
        [("truncated", 3)],
    ),
    "paste-double-spaced.txt": (
        [
            ("Received", "from mail-out.example.net (198.51.100.20) by mx.example.com with ESMTPS; Mon, 2 Dec 2024 22:34:58 +0000"),
            ("Authentication-Results", "mx.example.com; spf=pass smtp.mailfrom=example.net"),
            ("From", "sender@example.net"),
            ("Subject", "Double spaced"),
        ],
        [("double-spaced", 0)],
    ),
    "paste-latin1.txt": (
        [
            ("Authentication-Results", "mx.example.com; spf=pass smtp.mailfrom=example.net"),
            ("From", "Ren\u00e9 <rene@example.net>"),
            ("Subject", "Caf\u00e9"),
        ],
        [("non-utf8", 2), ("non-utf8", 3)],
    ),
    "paste-leading-text.txt": (
        [
            ("Authentication-Results", "mx.example.com; spf=pass smtp.mailfrom=example.net"),
            ("From", "sender@example.net"),
        ],
        [("unparsed-line", 1)],
    ),
    "paste-missing-blank-line.txt": (
        [
            ("From", "news@example.org"),
            ("Subject", "Offer"),
            ("MIME-Version", "1.0"),
            ("Content-Type", 'text/html; charset="utf-8"'),
        ],
        [("missing-blank-line", 5)],
    ),
    "paste-missing-blank-line-text.txt": (
        [
            ("From", "news@example.org"),
            ("Subject", "Offer"),
            ("Content-Type", "text/plain; charset=utf-8"),
        ],
        [("missing-blank-line", 4)],
    ),
    "paste-gmail-summary.txt": (
        [
            ("Delivered-To", "ap@example.net"),
            ("Received", "by 2002:a05:7108:1a4c:b0:3f1:2e9d:7c21 with SMTP id e12csp482913gdb;        Tue, 3 Nov 2026 01:14:07 -0800 (PST)"),
            (
                "ARC-Seal",
                "i=1; a=rsa-sha256; t=1793783647; cv=none; d=google.com; s=arc-20240605;        "
                "b=Qw3rT5yU7iO9pA1sD3fG5hJ7kL9zX1cV3bN5mQ7wE9rT1yU3iO5pA7sD9fG1hJ3k==",
            ),
            ("Return-Path", "<0102019a3c5e7f10-8d2b4c6e-000000@bounce.example.com>"),
            (
                "Received",
                "from a27.smtp-out.eu-west-1.example.com (a27.smtp-out.eu-west-1.example.com. [192.0.2.27])        "
                "by mx.google.com with ESMTPS id 6a1803df08f44-6d8f1a2b3c4si1234567qvb.321        for <ap@example.net>        "
                "(version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256 bits=128/128);        Tue, 03 Nov 2026 01:14:07 -0800 (PST)",
            ),
            (
                "Authentication-Results",
                "mx.google.com;       dkim=pass header.i=@example.com header.s=s2026 header.b=Kx7mP2qR;       "
                "spf=pass (google.com: domain of 0102019a3c5e7f10-8d2b4c6e-000000@bounce.example.com designates "
                "192.0.2.27 as permitted sender) smtp.mailfrom=bounce.example.com;       "
                "dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com",
            ),
            ("From", "Example Accounts <invoices@example.com>"),
            ("To", "ap@example.net"),
            ("Subject", "Invoice 42"),
            ("Date", "Tue, 3 Nov 2026 09:14:05 +0000"),
            ("Message-ID", "<0102019a3c5e7f10-8d2b4c6e-1a3f-4b5d-9c7e-2f4a6b8d0e1f-000000@eu-west-1.amazonses.com>"),
            ("MIME-Version", "1.0"),
        ],
        [("gmail-summary", 1)],
    ),
    "paste-gmail-summary-plain.txt": (
        [
            ("Received", "by 2002:a05:7108:1a4c:b0:3f1:2e9d:7c21 with SMTP id e12csp491022gdb;        Wed, 4 Nov 2026 02:02:13 -0800 (PST)"),
            (
                "Authentication-Results",
                "mx.google.com;       dkim=fail header.i=@example.com header.s=s2026 header.b=Zq8wLm3N;       "
                "spf=softfail (google.com: domain of transitioning billing@example.com does not designate 198.51.100.7 "
                "as permitted sender) smtp.mailfrom=billing@example.com;       "
                "dmarc=fail (p=QUARANTINE sp=QUARANTINE dis=QUARANTINE) header.from=example.com",
            ),
            ("From", "Example Accounts <invoices@example.com>"),
            ("To", "ap@example.net"),
            ("Subject", "Invoice 43"),
        ],
        [("gmail-summary", 1)],
    ),
    "paste-gmail-summary-indented.txt": (
        [
            ("MIME-Version", "1.0"),
            ("Date", "Wed, 4 Nov 2026 11:20:02 +0100"),
            ("Message-ID", "<CAF7x2kQ0m9vR4tY6uI8oP1aS3dF5gH7jK9lZ2xC4vB6nM8qW0e@mail.example.com>"),
            ("Subject", "Statement for October"),
            ("From", "Billing <billing@example.org>"),
            ("To", "ap@example.net"),
            (
                "DKIM-Signature",
                "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s1;        "
                "h=to:subject:message-id:date:from:mime-version; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;        "
                "b=Pa1sD3fG5hJ7kL9zX1cV3bN5mQ7wE9rT1yU3iO5pA7sD9fG1hJ3kL5zX7cV9bN1m",
            ),
        ],
        [("indentation", 0), ("gmail-summary", 1)],
    ),
    "paste-outlook-message-details.txt": (
        [
            (
                "Received",
                "from AM8PR04MB7331.eurprd04.prod.example.net (2603:10a6:20b:1c0::21) by "
                "DB9PR04MB8412.eurprd04.prod.example.net with HTTPS; Tue, 3 Nov 2026 09:14:09 +0000",
            ),
            (
                "Authentication-Results",
                "spf=pass (sender IP is 192.0.2.27) smtp.mailfrom=bounce.example.com; dkim=pass (signature was verified) "
                "header.d=example.com;dmarc=pass action=none header.from=example.com;compauth=pass reason=100",
            ),
            (
                "Received-SPF",
                "Pass (protection.outlook.com: domain of bounce.example.com designates 192.0.2.27 as permitted sender) "
                "receiver=protection.outlook.com; client-ip=192.0.2.27; helo=a27.smtp-out.eu-west-1.example.com; pr=C",
            ),
            ("From", "Example Accounts <invoices@example.com>"),
            ("To", "ap@example.net"),
            ("Subject", "Invoice 42"),
            ("X-MS-Exchange-Organization-SCL", "1"),
            (
                "X-Forefront-Antispam-Report",
                "CIP:192.0.2.27;CTRY:IE;LANG:en;SCL:1;SRV:;IPV:NLI;SFV:NSPM; "
                "H:a27.smtp-out.eu-west-1.example.com;PTR:a27.smtp-out.eu-west-1.example.com;CAT:NONE;",
            ),
        ],
        [("page-title", 1)],
    ),
    "paste-subject-lost-fold.txt": (
        [
            ("Received", "from mail-out.example.com (192.0.2.27) by mx.example.net with ESMTPS; Tue, 3 Nov 2026 09:14:05 +0000"),
            (
                "Authentication-Results",
                "mx.example.net; spf=pass smtp.mailfrom=bounce.example.com; dkim=pass header.d=example.com; "
                "dmarc=pass header.from=example.com",
            ),
            ("From", '"Example Ltd Accounts Receivable and Credit Control, Northern Region: Invoices" <invoices@example.com>'),
            ("To", "ap@example.net"),
            (
                "Subject",
                "Re: Invoice INV-2026-1042 for consulting services delivered in October, Reminder: payment is due on 15 December",
            ),
            ("Sensitivity", "Company-Confidential"),
            (
                "Thread-Topic",
                "Invoice INV-2026-1042 for consulting services delivered in October, Update: payment is due on 15 December",
            ),
            ("X-Campaign", "invoices-2026-11"),
            ("Date", "Tue, 3 Nov 2026 09:14:02 +0000"),
        ],
        [("continuation", 2), ("continuation", 4), ("continuation", 6), ("continuation", 9), ("continuation", 12)],
    ),
    "paste-subject-lost-fold-clean.txt": (
        [
            ("Received", "from mail-out.example.com (192.0.2.27) by mx.example.net with ESMTPS; Tue, 3 Nov 2026 09:14:05 +0000"),
            ("Authentication-Results", "mx.example.net; spf=pass smtp.mailfrom=bounce.example.com"),
            ("From", "Example Accounts <invoices@example.com>"),
            ("Subject", "Planning for the quarterly review of the accounts payable process and Agenda: dates"),
            ("Status", "RO"),
            ("Date", "Tue, 3 Nov 2026 09:14:02 +0000"),
        ],
        [("continuation", 5)],
    ),
}


def read_sample(name: str):
    path = SAMPLES / "headers" / name
    return read_message(path.read_bytes(), source=str(path))


@pytest.mark.parametrize("name", sorted(CASES))
def test_paste_fields(name):
    expected_fields, _ = CASES[name]
    parsed = read_sample(name)
    assert [(header.name, header.unfolded) for header in parsed.headers] == expected_fields


@pytest.mark.parametrize("name", sorted(CASES))
def test_paste_repairs(name):
    _, expected_repairs = CASES[name]
    parsed = read_sample(name)
    assert [(repair.kind, repair.line) for repair in parsed.repairs] == expected_repairs


@pytest.mark.parametrize("name", sorted(CASES))
def test_paste_positions(name):
    parsed = read_sample(name)
    assert [header.position for header in parsed.headers] == list(range(len(parsed.headers)))


def test_every_paste_sample_has_a_case():
    on_disk = {path.name for path in (SAMPLES / "headers").glob("paste-*.txt")}
    assert on_disk == set(CASES)


def test_unparsed_line_keeps_text():
    parsed = read_sample("paste-leading-text.txt")
    assert parsed.repairs[0].detail == "Here are the headers you asked for:"


def test_continuation_detail_names_field():
    parsed = read_sample("paste-unindented-continuations.txt")
    assert parsed.repairs[1].detail == "joined lines 5-7 to Authentication-Results as folded continuation lines"


def test_truncated_name_detail():
    parsed = read_sample("paste-truncated-name.txt")
    assert parsed.repairs[0].detail.endswith("X-MS-Exchange-Organiza")


def test_missing_blank_line_body():
    parsed = read_sample("paste-missing-blank-line.txt")
    assert parsed.body == b"<html><body><p>Hello</p></body></html>\n"


def test_missing_blank_line_email():
    parsed = read_sample("paste-missing-blank-line.txt")
    assert parsed.email.get_content_type() == "text/html"
    assert parsed.email.get_payload() == "<html><body><p>Hello</p></body></html>\n"


def test_missing_blank_line_text_body():
    parsed = read_sample("paste-missing-blank-line-text.txt")
    assert parsed.body == b"Hello Alice, this is the text of the message.\n"


def test_pastes_are_header_only():
    for name in CASES:
        if name.startswith("paste-missing-blank-line"):
            continue
        parsed = read_sample(name)
        assert parsed.body is None, name
        assert parsed.email is None, name


def test_mbox_line_skipped():
    parsed = read_message((SAMPLES / "eml" / "mbox-from-line.eml").read_bytes())
    assert parsed.headers[0].name == "Received"
    assert ("mbox-from-line", 1) in [(repair.kind, repair.line) for repair in parsed.repairs]


def test_mbox_body_unquoted():
    parsed = read_message((SAMPLES / "eml" / "mbox-from-line.eml").read_bytes())
    assert parsed.body == b"From the desk of the sender: hello.\n>From stays quoted once.\n"
    assert ("mbox-from-quoting", 0) in [(repair.kind, repair.line) for repair in parsed.repairs]


def test_mbox_email_headers():
    parsed = read_message((SAMPLES / "eml" / "mbox-from-line.eml").read_bytes())
    assert parsed.email["Subject"] == "Mbox"
    assert parsed.email.get_unixfrom() is None


def test_cr_only_line_endings():
    data = b"Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=example.net\rFrom: a@example.net\r"
    parsed = read_message(data)
    assert [header.name for header in parsed.headers] == ["Authentication-Results", "From"]
    assert [repair.kind for repair in parsed.repairs] == ["line-endings"]


def test_blank_line_then_body_text():
    # Text after a blank line that is not a header field is the body, even in a paste.
    data = b"From: a@example.net\nSubject: hi\n\nThanks for looking.\n"
    parsed = read_message(data)
    assert parsed.body == b"Thanks for looking.\n"
    assert parsed.repairs == []


def test_blank_line_then_repeated_subject():
    # A second Subject after the blank line is quoted text: RFC 5322 allows one Subject.
    data = b"From: a@example.net\nSubject: hi\n\nFrom: b@example.net\nSubject: earlier\n"
    parsed = read_message(data)
    assert [header.name for header in parsed.headers] == ["From", "Subject"]
    assert parsed.body == b"From: b@example.net\nSubject: earlier\n"


def test_blank_line_then_indented_body():
    data = b"From: a@example.net\nSubject: hi\n\n    indented first body line\n"
    parsed = read_message(data)
    assert parsed.body == b"    indented first body line\n"


def test_wrapped_date_not_field():
    data = b"Received: from a.example.net by b.example.com; Mon, 2 Dec 2024\n22:34:58 +0000\nFrom: a@example.net\n"
    parsed = read_message(data)
    assert parsed.headers[0].unfolded == "from a.example.net by b.example.com; Mon, 2 Dec 2024 22:34:58 +0000"
    assert len(parsed.headers) == 2


def test_content_type_without_space():
    data = b"From: a@example.net\nContent-Type:text/plain\n\nhello\n"
    parsed = read_message(data)
    assert [(header.name, header.value) for header in parsed.headers] == [("From", "a@example.net"), ("Content-Type", "text/plain")]
    assert parsed.repairs == []


def test_parameter_continuation_after_content_type():
    data = b'From: a@example.net\nContent-Type: multipart/mixed;\nboundary="b1"\n\n--b1\n\nx\n--b1--\n'
    parsed = read_message(data)
    assert parsed.headers[1].unfolded == 'multipart/mixed; boundary="b1"'
    assert parsed.email.get_boundary() == "b1"


@pytest.mark.parametrize(
    "line, expected",
    [
        ("Subject: hello", ("Subject", "hello", False)),
        ("Subject : hello", ("Subject", "hello", True)),
        ("X-Custom:", ("X-Custom", "", False)),
        ("Content-Type:text/plain", ("Content-Type", "text/plain", False)),
        ("360nrsId: 72982e58", ("360nrsId", "72982e58", False)),
        ("dkim=pass header.d=example.com;", None),
        ("Mon, 2 Dec 2024 22:34:58 +0000", None),
        ("22:34:58 +0000", None),
        ("CIP:192.0.2.1;CTRY:US;", None),
        ("https://www.example.com/unsubscribe", None),
        ("(2001:db8::1) by mx.example.com", None),
        ("Note : something", None),
    ],
)
def test_match_field(line, expected):
    assert match_field(line) == expected


# Webmail page text above the header fields.


@pytest.mark.parametrize(
    "name, detail",
    [
        (
            "paste-gmail-summary.txt",
            "skipped Gmail's Show original summary (lines 1-10), which reported "
            "SPF: PASS with IP 192.0.2.27; DKIM: PASS with domain example.com; DMARC: PASS",
        ),
        (
            "paste-gmail-summary-plain.txt",
            "skipped Gmail's Show original summary (lines 1-7), which reported "
            "SPF: SOFTFAIL with IP 198.51.100.7; DKIM: FAIL with domain example.com; DMARC: FAIL",
        ),
        (
            "paste-gmail-summary-indented.txt",
            "skipped Gmail's Show original summary (lines 1-9), which reported DKIM: PASS with domain example.org",
        ),
        ("paste-outlook-message-details.txt", "skipped the title of Outlook on the web's Message details dialog: Message details"),
    ],
)
def test_page_text_detail(name, detail):
    parsed = read_sample(name)
    page = [repair for repair in parsed.repairs if repair.kind in ("gmail-summary", "page-title")]
    assert [repair.detail for repair in page] == [detail]


def test_gmail_summary_one_from():
    parsed = read_sample("paste-gmail-summary.txt")
    assert build_facts(parsed)["identities"]["from_count"] == 1


def test_gmail_summary_no_result_fields():
    parsed = read_sample("paste-gmail-summary.txt")
    assert [header.name for header in parsed.headers if header.name in ("SPF", "DKIM", "DMARC")] == []


def test_gmail_summary_repeated_row_ends():
    # Without results or buttons, the second From starts the raw header block.
    data = (
        b"Message ID\t<a1@example.com>\nFrom:\tBilling <billing@example.org>\nTo:\tap@example.net\n"
        b"From: Billing <billing@example.org>\nTo: ap@example.net\nMIME-Version: 1.0\n"
    )
    parsed = read_message(data, source="p.txt")
    assert [header.name for header in parsed.headers] == ["From", "To", "MIME-Version"]
    assert [(repair.kind, repair.line) for repair in parsed.repairs] == [("gmail-summary", 1)]


def test_gmail_summary_alone_rejected():
    data = b"Original Message\nMessage ID\t<a1@example.com>\nSPF:\tPASS with IP 192.0.2.27 Learn more\nDownload Original\tCopy to clipboard\n"
    with pytest.raises(InputError, match=r"^p\.txt: no email header fields found"):
        read_message(data, source="p.txt")


@pytest.mark.parametrize(
    "data, expected",
    [
        # From, To and Subject alone are an ordinary header block.
        (
            b"From: a@example.com\nTo: b@example.net\nSubject: Invoice\n"
            b"Received: from x.example.com by mx.example.net; Tue, 3 Nov 2026 09:14:05 +0000\n",
            ["From", "To", "Subject", "Received"],
        ),
        # Summary rows followed by text that is no header field.
        (
            b"To: b@example.net\nSPF: PASS with IP 192.0.2.27\nThanks for checking.\n"
            b"Received: from x.example.com by mx.example.net; Tue, 3 Nov 2026 09:14:05 +0000\n",
            ["To", "SPF", "Received"],
        ),
        # The heading alone: a quoted reply can start with "Original Message" too.
        (
            b"Original Message\nFrom: a@example.com\nSent: Tuesday\nTo: b@example.net\n"
            b"Received: from x.example.com by mx.example.net; Tue, 3 Nov 2026 09:14:05 +0000\n",
            ["From", "Sent", "To", "Received"],
        ),
    ],
)
def test_gmail_summary_not_found(data, expected):
    parsed = read_message(data, source="p.txt")
    assert "gmail-summary" not in [repair.kind for repair in parsed.repairs]
    assert [header.name for header in parsed.headers] == expected


# Unindented continuations that look like "Word: text".


def test_lost_fold_detail():
    parsed = read_sample("paste-subject-lost-fold.txt")
    assert parsed.repairs[3].detail == 'joined line 9 to Subject as folded continuation lines ("Reminder:" is not a header field name)'


@pytest.mark.parametrize("source, expected", [("p.txt", ["Subject", "Date"]), ("m.eml", ["Subject", "Reminder", "Date"])])
def test_lost_fold_paste_only(source, expected):
    data = b"Subject: Invoice 42 for consulting services\nReminder: payment due\nDate: Tue, 3 Nov 2026 09:14:02 +0000\n"
    parsed = read_message(data, source=source)
    assert [header.name for header in parsed.headers] == expected


@pytest.mark.parametrize(
    "field_name, value, name, expected",
    [
        ("Subject", "Invoice 42 for consulting services", "Reminder", True),
        ("subject", "Invoice 42", "RE", True),
        ("Thread-Topic", "Invoice 42", "Update", True),
        ("Comments", "Checked", "Note", True),
        ("From", '"Example Ltd Accounts, Northern', "Region", True),
        ("From", "Example Accounts <invoices@example.com>", "Region", False),
        ("Sender", "invoices@example.com", "Region", False),
        ("To", "Accounts Payable, Northern", "Region", False),
        ("Received", "from mail-out.example.com", "Reminder", False),
        ("Subject", "Invoice 42", "X-Mailer", False),
        ("Subject", "Invoice 42", "Sensitivity", False),
        ("Subject", "Invoice 42", "Date", False),
    ],
)
def test_is_lost_fold(field_name, value, name, expected):
    assert is_lost_fold(field_name, value, name) is expected


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Reminder", True),
        ("Re", True),
        ("FWD", True),
        ("A", True),
        ("X-Mailer", False),
        ("Received", False),
        ("subject", False),
        ("Sensitivity", False),
        ("Status", False),
        ("SpamDiagnosticOutput", False),
        ("360nrsId", False),
        ("Thread_Index", False),
    ],
)
def test_is_text_word(name, expected):
    assert is_text_word(name) is expected


def test_body_forward_after_content_type_kept():
    # An inline forward quotes From/Sent/To without trace fields: the blank line ends the header block.
    data = (
        b"From: a@example.org\nSubject: Fwd: invoice\nContent-Type: text/plain\n\n"
        b"From: b@example.net\nTo: a@example.org\nSubject: invoice\n\nSee below.\n"
    )
    parsed = read_message(data, source="forward.txt")
    assert [header.name for header in parsed.headers] == ["From", "Subject", "Content-Type"]
    assert parsed.repairs == []


def test_rfc822_body_with_trace_kept():
    data = (
        b"From: a@example.org\nSubject: Fwd\nContent-Type: message/rfc822\n\n"
        b"Received: from mail.example.net by mx.example.org; Thu, 3 Dec 2026 08:41:20 +0000\n"
        b"From: b@example.net\nSubject: original\n\nBody\n"
    )
    parsed = read_message(data, source="attached.eml")
    assert [header.name for header in parsed.headers] == ["From", "Subject", "Content-Type"]


def test_fields_in_body_noted():
    # The blank line splits a fold whose continuation lost its indentation, so nothing can be joined.
    data = (
        b"Received: from mail.example.net (198.51.100.20)\n\nby mx.example.com with ESMTPS;\n"
        b"Thu, 3 Dec 2026 08:41:20 +0000\n\nAuthentication-Results: mx.example.com; spf=pass smtp.mailfrom=example.net\n"
        b"From: a@example.net\n"
    )
    parsed = read_message(data, source="paste.txt")
    assert [header.name for header in parsed.headers] == ["Received"]
    assert [repair.kind for repair in parsed.repairs] == ["fields-in-body"]
    assert "(Authentication-Results)" in parsed.repairs[0].detail
    assert "remove the blank lines" in parsed.repairs[0].detail


def test_fields_in_body_not_with_mime():
    data = (
        b"From: a@example.org\nContent-Type: text/plain\n\n"
        b"Here are the headers:\n\nReceived: from mail.example.net by mx.example.com; Thu, 3 Dec 2026 08:41:20 +0000\n"
    )
    parsed = read_message(data, source="support.eml")
    assert parsed.repairs == []
