"""Damaged pastes under samples/headers/paste-*.txt: field names, unfolded values and repairs."""

from pathlib import Path

import pytest

from diag.messages.reader import read_message
from diag.messages.repair import match_field

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# sample file -> (expected [(name, unfolded value)], expected [(repair kind, line)])
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
