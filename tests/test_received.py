"""Received hop parsing: clauses, dates, TLS state, delays, on samples/headers/received-*.txt."""

from email import policy
from email.parser import HeaderParser
from pathlib import Path

import pytest

from diag.facts import dates, received
from diag.facts.dates import parse_date
from diag.messages.model import Header

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "headers"


def sample_headers(name: str) -> list[Header]:
    text = (SAMPLES / name).read_text(encoding="utf-8")
    message = HeaderParser(policy=policy.compat32).parsestr(text)
    return [Header(field, value, position) for position, (field, value) in enumerate(message.items())]


def hop(value: str) -> dict:
    return received.parse_received(Header("Received", value, 0))


@pytest.fixture(scope="module")
def date_forms() -> list[dict]:
    return received.collect(sample_headers("received-date-forms.txt"))["hops"]


# One row per Received field of received-date-forms.txt, top first: (ISO date, zone stated).
DATE_FORMS = [
    ("2024-12-02T10:00:00+01:00", True),  # German "Mo, 2 Dez"
    ("2024-12-02T10:00:00+01:00", True),  # French "lun. 2 déc."
    ("2024-12-02T10:00:00+00:00", True),  # two-digit year
    ("2024-12-02T10:00:00+00:00", False),  # no zone
    ("2024-12-02T10:00:00+00:00", True),  # -0000
    ("2024-12-02T05:00:00-05:00", True),  # EST
    ("2024-12-02T03:00:00-07:00", True),  # PDT
    ("2024-12-02T10:00:00+00:00", True),  # UT
    ("2018-09-28T08:48:36.716000+00:00", True),  # fractional seconds
    ("2018-09-28T08:48:36.858842+00:00", True),  # ISO 8601 without ";"
    ("2024-12-02T10:00:00+00:00", True),  # folded after the weekday
    ("2018-04-20T17:51:19-04:00", True),  # (envelope-from ...) after the date
    ("2018-09-28T04:48:45-04:00", True),  # no ";" before an RFC 5322 date
    ("2018-01-26T15:54:11-06:00", True),  # "- 0600"
    ("2024-12-03T10:00:00+01:00", True),  # bare CET
    ("2024-12-02T15:30:00+05:30", True),  # "+05:30"
    ("2024-12-02T10:00:00+00:00", True),  # GMT
]


@pytest.mark.parametrize("index,expected", list(enumerate(DATE_FORMS)))
def test_date_form(date_forms, index, expected):
    date, zone_known = expected
    assert date_forms[index]["date"] == date
    assert date_forms[index]["zone_known"] is zone_known


def test_date_garbled_is_none(date_forms):
    garbled = date_forms[17]
    assert garbled["date"] is None
    assert garbled["timestamp"] is None
    assert garbled["with"] == "SMTP"


def test_date_timestamp_is_utc(date_forms):
    # 10:00 UTC on 2 December 2024, written as +0100, EST, PDT and +05:30.
    for index in (2, 5, 6, 15):
        assert date_forms[index]["timestamp"] == 1733133600.0


def test_date_iso_keeps_clauses(date_forms):
    sendgrid = date_forms[9]
    assert sendgrid["from"] is None
    assert sendgrid["by"] == "filter0001p1mdw1.example.net"
    assert sendgrid["id"] == "filter0001p1mdw1-30359-5BADEAE4-E"
    assert sendgrid["with"] == "SMTP"


def test_date_envelope_from_after_date(date_forms):
    powermta = date_forms[11]
    assert powermta["id"] == "hrakoo0lrlgv"
    assert powermta["for"] == "alex@example.org"
    assert powermta["from_ip"] == "192.0.2.40"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1 Dec 49 10:00:00 +0000", "2049-12-01T10:00:00+00:00"),
        ("1 Dec 50 10:00:00 +0000", "1950-12-01T10:00:00+00:00"),
        ("1 Dec 124 10:00:00 +0000", "2024-12-01T10:00:00+00:00"),
        ("Tue, 31 Dec 2024 23:59:60 +0000", "2024-12-31T23:59:59+00:00"),
        ("5 août 2024 10:00 +0200", "2024-08-05T10:00:00+02:00"),
        ("5 Mrz 2024 10:00:00 +0100", "2024-03-05T10:00:00+01:00"),
    ],
)
def test_date_rfc5322_year_rules(text, expected):
    assert parse_date(text).value.isoformat() == expected


def test_date_invalid_day_is_none():
    assert parse_date("31 Feb 2024 10:00:00 +0000") is None


def test_postfix_exim_hops():
    hops = received.collect(sample_headers("received-postfix-exim-chain.txt"))["hops"]

    postfix = hops[0]
    assert postfix["from"] == "mail.example.net"
    assert postfix["from_ip"] == "198.51.100.20"
    assert postfix["from_rdns"] == "mail.example.net"
    assert postfix["by"] == "mx.example.org"
    assert postfix["with"] == "ESMTPS"
    assert postfix["id"] == "4ABCDE12345"
    assert postfix["for"] == "alex@example.org"
    assert postfix["date"] == "2024-12-03T10:15:07+01:00"
    assert postfix["tls"] is True
    assert postfix["position"] == 0

    exim = hops[2]
    assert exim["from"] == "[203.0.113.45]"
    assert exim["from_ip"] == "203.0.113.45"
    assert exim["with"] == "esmtpa"
    assert exim["id"] == "1tIOx2-0001Ab-3c"
    assert exim["for"] == "alex@example.org"
    assert exim["tls"] is False


def test_postfix_exim_summary():
    facts = received.collect(sample_headers("received-postfix-exim-chain.txt"))
    assert [hop["delay_seconds"] for hop in facts["hops"]] == [5.0, 4.0, None]
    assert facts["max_delay_seconds"] == 5.0
    assert facts["slow_hops"] == []
    assert facts["negative_hops"] == []
    # The localhost hop is ESMTP without TLS but stays on one host.
    assert [hop["index"] for hop in facts["plain_hops"]] == [2]


def test_microsoft_hops():
    hops = received.collect(sample_headers("received-microsoft-ses.txt"))["hops"]

    assert hops[0]["from"] == "mw4pr03ca0001.namprd03.prod.example.com"
    assert hops[0]["from_ip"] == "2001:db8:610:60::34"
    assert hops[0]["by"] == "sa6pr04mb0001.namprd04.prod.example.com"
    assert hops[0]["with"] == "Microsoft SMTP Server"
    assert hops[0]["id"] == "15.20.8207.18"
    assert hops[0]["date"] == "2024-12-02T22:34:58+00:00"
    assert hops[0]["tls"] is True

    assert hops[2]["from_ip"] == "192.0.2.11"
    assert hops[2]["tls"] is False
    assert hops[3]["with"] == "mapi"
    assert hops[3]["tls"] is None


def test_microsoft_summary():
    facts = received.collect(sample_headers("received-microsoft-ses.txt"))
    assert [hop["delay_seconds"] for hop in facts["hops"]] == [0.0, 1.0, 2.0, None]
    assert [hop["index"] for hop in facts["plain_hops"]] == [2]
    assert facts["plain_hops"][0]["from"] == "e226-11.smtp-out.us-east-2.amazonses.com"


def test_google_clock_skew_summary():
    facts = received.collect(sample_headers("received-google-clock-skew.txt"))
    assert [hop["delay_seconds"] for hop in facts["hops"]] == [-2.0, 630.0, 2.0, None]
    assert facts["max_delay_seconds"] == 630.0
    assert [hop["index"] for hop in facts["slow_hops"]] == [1]
    assert [hop["index"] for hop in facts["negative_hops"]] == [0]
    assert [hop["index"] for hop in facts["plain_hops"]] == [2]


def test_google_internal_hop():
    google = received.collect(sample_headers("received-google-clock-skew.txt"))["hops"][0]
    assert google["from"] is None
    assert google["by"] == "2002:a05:6a10:ae0d:b0:5a1:7e2b:9f0c"
    assert google["with"] == "SMTP"
    assert google["id"] == "x13csp2532955pxb"
    assert google["tls"] is False


def test_qmail_comment_only():
    qmail = received.collect(sample_headers("received-google-clock-skew.txt"))["hops"][3]
    assert qmail["from"] is None
    assert qmail["by"] is None
    assert qmail["with"] is None
    assert qmail["tls"] is None
    assert qmail["date"] == "2025-01-15T11:01:10+00:00"


def test_no_received_fields():
    facts = received.collect([Header("From", "alex@example.org", 0)])
    assert facts["hops"] == []
    assert "max_delay_seconds" not in facts


def test_zone_unknown_gives_no_delay():
    facts = received.collect([
        Header("Received", "from a.example.net ([192.0.2.1]) by b.example.org with SMTP; 2 Dec 2024 10:05:00", 0),
        Header("Received", "from c.example.net ([192.0.2.2]) by a.example.net with SMTP; 2 Dec 2024 10:00:00 +0000", 1),
    ])
    assert facts["hops"][0]["delay_seconds"] is None
    assert facts["slow_hops"] == []


@pytest.mark.parametrize(
    "value,expected",
    [
        ("from a.example.net ([192.0.2.1]) by b.example.org with ESMTPS id 1; 2 Dec 2024 10:00:00 +0000", True),
        ("from a.example.net ([192.0.2.1]) by b.example.org with ESMTPSA id 1; 2 Dec 2024 10:00:00 +0000", True),
        ("from a.example.net ([192.0.2.1]) by b.example.org with UTF8SMTPS id 1; 2 Dec 2024 10:00:00 +0000", True),
        ("from a.example.net ([192.0.2.1]) by b.example.org with LMTPS id 1; 2 Dec 2024 10:00:00 +0000", True),
        ("from a.example.net ([192.0.2.1]) by b.example.org with SMTPS id 1 (Google Transport Security); 2 Dec 2024 10:00:00 +0000", True),
        ("from a.example.net ([192.0.2.1]) by b.example.org with esmtps (TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256) (Exim 4.97) id 1; 2 Dec 2024 10:00:00 +0000", True),
        ("from a.example.net ([192.0.2.1]) by b.example.org with ESMTP with STARTTLS (version=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384) id 1; 2 Dec 2024 10:00:00 +0000", True),
        ("from a.example.net ([10.0.0.1]) by b.example.org with ESMTP/TLS/ECDHE-RSA-AES256-GCM-SHA384; 2 Dec 2024 10:00:00 +0000", True),
        ("from A.example.net (192.0.2.1) by B.example.org (192.0.2.2) with Microsoft SMTP Server (TLS) id 15.0.1367.3; 2 Dec 2024 10:00:00 +0000", True),
        ("from A.example.net (192.0.2.1) by B.example.org with HTTPS via C.example.org; 2 Dec 2024 10:00:00 +0000", True),
        ("from a.example.net ([192.0.2.1]) by b.example.org with SMTP (cipher=TLS_AES_256_GCM_SHA384); 2 Dec 2024 10:00:00 +0000", True),
        ("from a.example.net ([192.0.2.1]) by b.example.org with SMTP id 1; 2 Dec 2024 10:00:00 +0000", False),
        ("from a.example.net ([192.0.2.1]) by b.example.org with ESMTP id 1; 2 Dec 2024 10:00:00 +0000", False),
        ("from a.example.net ([192.0.2.1]) by b.example.org with esmtpa (Exim 4.97) id 1; 2 Dec 2024 10:00:00 +0000", False),
        ("from a.example.net ([192.0.2.1]) by b.example.org with UTF8SMTP id 1; 2 Dec 2024 10:00:00 +0000", False),
        ("from A.example.net (192.0.2.1) by B.example.org (192.0.2.2) with Microsoft SMTP Server id 15.20.696.11 via Frontend Transport; 2 Dec 2024 10:00:00 +0000", False),
        ("from a.example.net by b.example.org with LMTP id 1; 2 Dec 2024 10:00:00 +0000", None),
        ("from alex by b.example.org with local (Exim 4.97) id 1; 2 Dec 2024 10:00:00 +0000", None),
        ("from A.example.net ([fe80::1]) by A.example.net ([fe80::1%5]) with mapi id 15.20.1.1; 2 Dec 2024 10:00:00 +0000", None),
        ("from a.example.net by b.example.org with HTTP; 2 Dec 2024 10:00:00 +0000", None),
        ("from a.example.net ([192.0.2.1]) by b.example.org id 1; 2 Dec 2024 10:00:00 +0000", None),
    ],
)
def test_tls_state(value, expected):
    assert hop(value)["tls"] is expected


@pytest.mark.parametrize(
    "value,plain",
    [
        ("from a.example.net (a.example.net [198.51.100.1]) by b.example.org with ESMTP; 2 Dec 2024 10:00:00 +0000", True),
        ("from a.example.net (localhost [127.0.0.1]) by b.example.org with ESMTP; 2 Dec 2024 10:00:00 +0000", False),
        ("from a.example.net (localhost [IPv6:::1]) by b.example.org with ESMTP; 2 Dec 2024 10:00:00 +0000", False),
        ("from a.example.net (unknown [192.168.20.1]) by b.example.org with SMTP; 2 Dec 2024 10:00:00 +0000", False),
        ("from a.example.net ([10.1.2.3]) by b.example.org with SMTP; 2 Dec 2024 10:00:00 +0000", False),
        ("from a.example.net (b.example.org [198.51.100.1]) by b.example.org with ESMTP; 2 Dec 2024 10:00:00 +0000", False),
        ("from a.example.net (a.example.net [198.51.100.1]) by b.example.org with ESMTPS; 2 Dec 2024 10:00:00 +0000", False),
        ("by b.example.org with SMTP id 1; 2 Dec 2024 10:00:00 +0000", False),
    ],
)
def test_plain_hop(value, plain):
    facts = received.collect([Header("Received", value, 0)])
    assert bool(facts["plain_hops"]) is plain


def test_nested_comment():
    parsed = hop("from localhost (192.0.2.40) by vmta1.example.net (PowerMTA(TM) v5.0r1) id abc for <a@example.org>; Fri, 20 Apr 2018 17:51:19 -0400")
    assert parsed["by"] == "vmta1.example.net"
    assert parsed["id"] == "abc"
    assert parsed["for"] == "a@example.org"


def test_exim_ip_with_port():
    parsed = hop("from [192.0.2.10] ([192.0.2.10:4227] helo=mail.example.net) by mx.example.org with ESMTPS id X; 2 Dec 2024 10:00:00 +0000")
    assert parsed["from_ip"] == "192.0.2.10"


def test_pod_id_not_a_clause():
    parsed = hop("from 127.0.0.1 by web.example.org pod-id web--1.example.org with HTTP; Wed, 6 Aug 2025 21:48:28 +0000")
    assert parsed["by"] == "web.example.org"
    assert parsed["id"] is None
    assert parsed["with"] == "HTTP"


def test_unbalanced_comment():
    parsed = hop("from a.example.net (a.example.net [192.0.2.1] by b.example.org with ESMTP; 2 Dec 2024 10:00:00 +0000")
    assert parsed["by"] == "b.example.org"
    assert parsed["date"] == "2024-12-02T10:00:00+00:00"


def test_raw_collapses_folding():
    parsed = received.parse_received(Header("Received", "from a.example.net\r\n\tby b.example.org with SMTP;\r\n 2 Dec 2024 10:00:00 +0000", 4))
    assert parsed["raw"] == "from a.example.net by b.example.org with SMTP; 2 Dec 2024 10:00:00 +0000"
    assert parsed["position"] == 4


@pytest.mark.parametrize(
    "text",
    [
        "Mon, 2 Dec 2024 10:00:00 +0100",
        "2 Dec 2024 10:00:00 -0000",
        "Mon, 02 Dec 2024 10:00:00 -0530",
        "Mo, 2 Dez 2024 10:00:00 +0100",
        "2 Dec 2024 10:00:00.25 +0000",
        "Mon, 2 Dec 2024 10:00:00 EST",
    ],
)
def test_date_iso_is_isoformat(text):
    parsed = parse_date(text)
    assert parsed.iso == parsed.value.isoformat()


def test_date_negative_zero_is_utc():
    parsed = parse_date("Mon, 2 Dec 2024 10:00:00 -0000")
    assert parsed.iso == "2024-12-02T10:00:00+00:00"
    assert parsed.zone_known is True


def test_date_zone_minutes_over_59():
    # A zone that datetime.fromisoformat would read differently goes to the general parser.
    assert parse_date("Mon, 2 Dec 2024 10:00:00 +0075").iso == "2024-12-02T10:00:00+01:15"


@pytest.mark.parametrize(
    "comment,expected",
    [
        ("(using TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384)", True),
        ("(version=TLS1_2)", True),
        ("(version= TLS1_3)", True),
        ("(Google Transport Security)", True),
        ("(cipher=TLS_AES_256_GCM_SHA384)", True),
        ("(xstarttls)", False),
        ("(xtls1.2)", False),
        ("(xcipher=1)", False),
        ("(TLS is not used)", False),
    ],
)
def test_tls_evidence(comment, expected):
    parsed = hop(f"from a.example.net ([192.0.2.1]) by b.example.org with SMTP {comment} id 1; 2 Dec 2024 10:00:00 +0000")
    assert parsed["tls"] is expected


def test_from_comment_after_other_comment():
    parsed = hop("(qmail 1 invoked) from a.example.net (a.example.net [192.0.2.5]) by b.example.org with SMTP; 2 Dec 2024 10:00:00 +0000")
    assert parsed["from_ip"] == "192.0.2.5"
    assert parsed["from_rdns"] == "a.example.net"
    assert parsed["by"] == "b.example.org"


RECEIVED_SAMPLES = [
    "received-date-forms.txt",
    "received-google-clock-skew.txt",
    "received-microsoft-ses.txt",
    "received-postfix-exim-chain.txt",
]


def usual_and_general(value: str) -> tuple[dict | None, dict]:
    raw = " ".join(value.split())
    return received._parse_usual(raw, 0), received._parse_general(raw, 0)


@pytest.mark.parametrize("name", RECEIVED_SAMPLES)
def test_usual_equals_general(name):
    fields = [header for header in sample_headers(name) if header.lowered_name == "received"]
    accepted = 0
    for header in fields:
        usual, general = usual_and_general(header.value)
        if usual is not None:
            accepted += 1
            assert usual == general, header.value
    assert accepted > 0


@pytest.mark.parametrize(
    "value",
    [
        "from a.example.net (a.example.net [192.0.2.5]) by b.example.org (Postfix) with ESMTPS id 4ABC for <alex@example.org>; Tue, 3 Dec 2024 10:15:07 +0100 (CET)",
        "from A.example.net (192.0.2.1) by B.example.org (192.0.2.2) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE) id 15.20.1.1 via Frontend Transport; Mon, 2 Dec 2024 22:34:58 +0000",
        "by 2001:db8::5 with SMTP id x13csp2532955pxb; Mon, 2 Dec 2024 14:34:58 -0800 (PST)",
        "from a.example.net (a.example.net [192.0.2.5]) (authenticated bits=0) by b.example.org with ESMTPSA id 1; 2 Dec 2024 10:00:00 -0000",
        "from a.example.net (using TLSv1.3 with cipher X (256/256 bits) (No client certificate requested)) by b.example.org with ESMTP; 2 Dec 2024 10:00:00 +0000",
        "from [192.0.2.10] ([192.0.2.10:4227] helo=mail.example.net) by mx.example.org via relay.example.org with esmtp id X; 2 Dec 2024 10:00:00 GMT",
        "from a.example.net by b.example.org with SMTP; Mon, 2 Dec 2024 10:00:00 UT",
    ],
)
def test_usual_layouts(value):
    usual, general = usual_and_general(value)
    assert usual is not None
    assert usual == general


@pytest.mark.parametrize(
    "value",
    [
        # A keyword as a clause's word starts a new clause in the general split.
        "from by b.example.org with SMTP; 2 Dec 2024 10:00:00 +0000",
        "from a.example.net by b.example.org with ESMTP ID 1; 2 Dec 2024 10:00:00 +0000",
        # A backslash in a comment may escape a parenthesis.
        "from a.example.net (a \\) b) by b.example.org with SMTP; 2 Dec 2024 10:00:00 +0000",
        # Four levels of nesting are more than the comment pattern reads.
        "from a.example.net ((((x)))) by b.example.org with SMTP; 2 Dec 2024 10:00:00 +0000",
        "from a.example.net by b.example.org with SMTP; 2 Dec 2024 10:00:00 EST",
        "from a.example.net by b.example.org with SMTP; 31 Feb 2024 10:00:00 +0000",
        "from a.example.net by b.example.org with SMTP; 31 Dec 2024 23:59:60 +0000",
        "from a.example.net by b.example.org with SMTP; 2 Dec 2024 10:00:00.5 +0000",
        "from a.example.net by b.example.org with SMTP id 1 for <a@example.org> <b@example.org>; 2 Dec 2024 10:00:00 +0000",
        "from a.example.net by b.example.org with SMTP; 2 Dec 2024 10:00:00 +0000; x",
        "from a.example.net by b.example.org with SMTP; 2 Dec 2024 10:00:00 +0000 x",
        "from a\x00.example.net by b.example.org with SMTP; 2 Dec 2024 10:00:00 +0000",
    ],
)
def test_usual_leaves_other_forms(value):
    usual, _general = usual_and_general(value)
    assert usual is None


def test_usual_gmt_zone():
    parsed = hop("from a.example.net by b.example.org with SMTP; Fri, 4 Dec 2026 21:21:26 GMT")
    assert parsed["date"] == "2026-12-04T21:21:26+00:00"
    assert parsed["timestamp"] == 1796419286.0
    assert parsed["zone_known"] is True


def test_usual_two_from_comments():
    parsed = hop("from a.example.net (authenticated bits=0) (a.example.net [192.0.2.5]) by b.example.org with ESMTPSA; 2 Dec 2024 10:00:00 +0000")
    assert parsed["from_ip"] == "192.0.2.5"
    assert parsed["from_rdns"] == "a.example.net"


def test_leap_second_general_parser():
    parsed = hop("from a.example.net by b.example.org with SMTP; 31 Dec 2024 23:59:60 +0000")
    assert parsed["date"] == "2024-12-31T23:59:59+00:00"
    assert parsed["by"] == "b.example.org"


@pytest.mark.parametrize(
    "text",
    [
        "Tue, 3 Dec 2024 10:15:07 +0100",
        "3 Dec 2024 10:15:07 -0000",
        "Tue, 03 Dec 2024 23:59:59 -1130",
        "29 Feb 2024 00:00:00 +2359",
    ],
)
def test_common_date_fields(text):
    groups = dates._COMMON_DATE.match(text).groups()
    parsed = parse_date(text)
    assert dates.common_date_fields(*groups) == (parsed.iso, parsed.value.timestamp())


@pytest.mark.parametrize("text", ["29 Feb 2023 10:00:00 +0000", "3 Dec 2024 24:00:00 +0000", "3 Dez 2024 10:00:00 +0000"])
def test_common_date_fields_none(text):
    groups = dates._COMMON_DATE.match(text).groups()
    assert dates.common_date_fields(*groups) is None
