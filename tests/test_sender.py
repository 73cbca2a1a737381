"""The SMTP client that connected to the receiver: verdicts.sender_* and auth.received_spf."""

from pathlib import Path

from diag.facts.build import build_facts
from diag.messages.reader import read_message

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
