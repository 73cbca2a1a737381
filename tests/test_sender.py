"""The SMTP client that connected to the receiver: verdicts.sender_* and auth.received_spf."""

from pathlib import Path

import pytest

from diag.engine.loader import load_rules
from diag.facts.build import build_facts
from diag.messages.reader import read_message
from diag.pipeline import AnalyzeOptions, analyze_bytes

RULES = load_rules([])

REPOSITORY = Path(__file__).resolve().parent.parent


def facts_of(block: str) -> dict:
    return build_facts(read_message(block.encode(), source="test"))


GOOGLE_STYLE = """\
Authentication-Results: mx.example.net;
 spf=softfail (mx.example.net: domain of a@example.org does not designate 192.0.2.45 as permitted sender) smtp.mailfrom=a@example.org
Received-SPF: softfail (mx.example.net: domain of a@example.org does not designate 192.0.2.45 as permitted sender) client-ip=192.0.2.45; helo=app1.example.org;
Received: from app1.example.org (app1.example.org. [192.0.2.45])
 by mx.example.net with ESMTPS id abc for <b@example.net>; Thu, 12 Nov 2026 06:20:11 -0800
Received-SPF: pass (relay.example.net: domain of x@example.com designates 198.51.100.9 as permitted sender) client-ip=198.51.100.9;
From: a@example.org
Subject: test

"""


def test_ip_from_received_spf():
    verdicts = facts_of(GOOGLE_STYLE)["verdicts"]
    assert verdicts["sender_ip"] == "192.0.2.45"
    assert verdicts["sender_ip_source"] == "received-spf"


def test_helo_from_received_spf():
    assert facts_of(GOOGLE_STYLE)["verdicts"]["sender_helo"] == "app1.example.org"


def test_rdns_from_received_hop():
    assert facts_of(GOOGLE_STYLE)["verdicts"]["sender_rdns"] == "app1.example.org"


def test_received_spf_fact_is_receivers():
    received_spf = facts_of(GOOGLE_STYLE)["auth"]["received_spf"]
    assert received_spf["client_ip"] == "192.0.2.45"
    assert received_spf["result"] == "softfail"


def test_received_spf_below_next_hop_ignored():
    # The second Received-SPF sits below the receiver's Received field: an earlier hop's.
    block = GOOGLE_STYLE.replace(
        "Received-SPF: softfail (mx.example.net: domain of a@example.org does not designate 192.0.2.45 as permitted sender) client-ip=192.0.2.45; helo=app1.example.org;\n",
        "",
    )
    facts = facts_of(block)
    assert "received_spf" not in facts["auth"]
    assert facts["verdicts"]["sender_ip"] == "192.0.2.45"
    assert facts["verdicts"]["sender_ip_source"] != "received-spf"


def test_received_spf_comment_address():
    block = """\
Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.org
Received-SPF: pass (domain of example.org designates 2001:db8::25 as permitted sender)
From: a@example.org

"""
    verdicts = facts_of(block)["verdicts"]
    assert verdicts["sender_ip"] == "2001:db8::25"
    assert verdicts["sender_ip_source"] == "received-spf"


def test_microsoft_comment_first():
    sample = (REPOSITORY / "samples/rules/compauth-fail/fail.txt").read_text()
    verdicts = facts_of(sample)["verdicts"]
    assert verdicts["sender_ip"] == "198.51.100.25"
    assert verdicts["sender_ip_source"] == "authentication-results"
    assert verdicts["sender_helo"] == "a25-7.smtp-out.us-east-1.amazonses.com"


def test_no_client_found():
    verdicts = facts_of("Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.org\nFrom: a@example.org\n\n")["verdicts"]
    assert "sender_ip" not in verdicts


MICROSOFT_NO_PTR = """\
Received: from app3.example.com (198.51.100.23) by
 DB8PEPF00000A11.eurprd04.prod.outlook.com (10.167.242.61) with Microsoft SMTP
 Server id 15.20.8137.17; Wed, 4 Nov 2026 10:12:40 +0000
Authentication-Results: spf=fail (sender IP is 198.51.100.23)
 smtp.mailfrom=example.com; dkim=none (message not signed) header.d=none;dmarc=fail
 action=none header.from=example.com;compauth=fail reason=001
X-Forefront-Antispam-Report: CIP:198.51.100.23;CTRY:NL;LANG:en;SCL:5;SRV:;IPV:NLI;SFV:SPM;H:app3.example.com;PTR:InfoNoRecords;CAT:SPOOF;SFS:(13230040);DIR:INB;
From: a@example.com

"""


def test_ptr_placeholder_not_rdns():
    verdicts = facts_of(MICROSOFT_NO_PTR)["verdicts"]
    assert "sender_rdns" not in verdicts
    assert verdicts["sender_rdns_missing"] is True
    assert verdicts["sender_rdns_source"] == "x-forefront-antispam-report"
    assert verdicts["sender_reverse_name"] == "23.100.51.198.in-addr.arpa"


@pytest.mark.parametrize("ptr", ["InfoDomainNonexistent", "localhost", "-bad-.example.com", "mail..example.com"])
def test_ptr_not_host_name(ptr):
    verdicts = facts_of(MICROSOFT_NO_PTR.replace("PTR:InfoNoRecords", f"PTR:{ptr}"))["verdicts"]
    assert "sender_rdns" not in verdicts
    assert verdicts["sender_rdns_missing"] is True


def test_ptr_host_name_kept():
    verdicts = facts_of(MICROSOFT_NO_PTR.replace("PTR:InfoNoRecords", "PTR:App3.Example.com."))["verdicts"]
    assert verdicts["sender_rdns"] == "app3.example.com"
    assert verdicts["sender_rdns_missing"] is False
    assert "sender_reverse_name" not in verdicts


def test_ptr_placeholder_not_in_spf_fix():
    report = analyze_bytes(MICROSOFT_NO_PTR.encode(), source="test", options=AnalyzeOptions(rules=RULES))
    finding = next(finding for finding in report["findings"] if finding["name"] == "spf-fail")
    assert "infonorecords" not in " ".join(finding["fix"]).lower()
    assert "app3.example.com" in " ".join(finding["fix"])


def test_ptr_empty_unknown():
    verdicts = facts_of(MICROSOFT_NO_PTR.replace("PTR:InfoNoRecords", "PTR:"))["verdicts"]
    assert "sender_rdns" not in verdicts
    assert "sender_rdns_missing" not in verdicts
