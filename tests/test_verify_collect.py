"""The whole `verify` step through the pipeline: SPF at the trust boundary, DMARC alignment,
mailing lists, the gate, and the rules that compare our results with the receiver's."""

import dns.resolver
import pytest

from diag.engine.loader import load_rules
from diag.pipeline import AnalyzeOptions, analyze_bytes
from diag.verify.collect import VerifySession
from tests.test_verify_arc import list_hop
from tests.test_verify_signing import (  # noqa: F401  (world and resolver are fixtures)
    EASY_DKIM_TOKEN,
    LIST_IP,
    SES_IP,
    SES_SELECTOR,
    SHOP,
    SHOP_IP,
    delivered,
    message,
    resolver,
    sign,
    world,
    world_knot,
)

RULES = load_rules([])
PASSING = f"dkim=pass header.d={SHOP} header.s=s2048; spf=pass smtp.mailfrom=bounce@{SHOP}; dmarc=pass header.from={SHOP}"


def analyze(resolver, data: bytes) -> dict:
    return analyze_bytes(data, source="test.eml", options=AnalyzeOptions(rules=RULES, offline=False, verify_session=VerifySession(resolver)))


def outcome(report: dict, name: str) -> str:
    return next(entry["outcome"] for entry in report["outcomes"] if entry["name"] == name)


def shop_signed(world, **options) -> bytes:
    return sign(message(**options), world.keys["s2048"], "s2048", SHOP)


def test_all_pass(resolver, world):
    report = analyze(resolver, delivered(shop_signed(world), PASSING))
    verify = report["verify"]
    assert verify["dkim"][0]["result"] == "pass"
    assert verify["dkim"][0]["receiver_result"] == "pass"
    assert verify["spf"]["ip"] == SHOP_IP
    assert verify["spf"]["ip_source"] == "received-boundary"
    assert verify["spf"]["mailfrom_result"] == "pass"
    assert verify["spf"]["helo_result"] == "pass"
    assert verify["dmarc"]["result"] == "pass"
    assert verify["dmarc"]["policy"] == "reject"
    assert verify["dmarc"]["spf_aligned"] is True
    assert verify["dmarc"]["dkim_aligned"] is True


def test_verdicts_unchanged(resolver, world):
    data = delivered(shop_signed(world), PASSING)
    with_verify = analyze(resolver, data)
    without = analyze_bytes(data, source="test.eml", options=AnalyzeOptions(rules=RULES))
    assert with_verify["verdicts"] == without["verdicts"]
    assert "verify" not in without


def test_spf_record_changed(resolver, world):
    report = analyze(resolver, delivered(shop_signed(world), PASSING, ip="203.0.113.9"))
    assert report["verify"]["spf"]["mailfrom_result"] == "fail"
    assert report["verify"]["spf"]["receiver_result"] == "pass"
    assert outcome(report, "verify-spf-receiver-pass-now-fail") == "fail"


def test_microsoft_sender_ip(resolver, world):
    results = f"spf=pass (sender IP is {SES_IP}) smtp.mailfrom=bounce.{SHOP}; dkim=pass (signature was verified) header.d={SHOP};dmarc=pass action=none header.from={SHOP};compauth=pass reason=100"
    data = f"Authentication-Results: {results}\r\n".encode() + shop_signed(world)
    report = analyze(resolver, data)
    assert report["verify"]["spf"]["ip"] == SES_IP
    assert report["verify"]["spf"]["ip_source"] == "authentication-results"
    assert report["verify"]["spf"]["mailfrom"] == f"postmaster@bounce.{SHOP}"
    assert report["verify"]["spf"]["mailfrom_result"] == "pass"


def test_microsoft_cip(resolver, world):
    data = (
        f"X-Forefront-Antispam-Report: CIP:{SES_IP};CTRY:US;LANG:en;SCL:1;SRV:;IPV:NLI;SFV:NSPM;CAT:NONE;\r\n"
        f"Authentication-Results: spf=pass smtp.mailfrom=bounce.{SHOP}; dkim=pass header.d={SHOP};dmarc=pass action=none header.from={SHOP}\r\n"
    ).encode() + shop_signed(world)
    report = analyze(resolver, data)
    assert report["verify"]["spf"]["ip"] == SES_IP
    assert report["verify"]["spf"]["ip_source"] == "x-forefront-antispam-report"


def test_ses_pair_relaxed_alignment(resolver, world):
    signed = sign(message(), world.keys["token"], EASY_DKIM_TOKEN, SHOP)
    signed = sign(signed, world.keys["ses"], SES_SELECTOR, "amazonses.com")
    results = f"dkim=pass header.d=amazonses.com; dkim=pass header.d={SHOP}; spf=pass smtp.mailfrom=0100018c@bounce.{SHOP}; dmarc=pass header.from={SHOP}"
    report = analyze(resolver, delivered(signed, results, ip=SES_IP, helo="a8-10.smtp-out.amazonses.com"))
    dmarc = report["verify"]["dmarc"]
    assert dmarc["result"] == "pass"
    assert dmarc["dkim_aligned_signatures"] == [1]
    assert dmarc["spf_aligned"] is True


def test_strict_alignment_fails(resolver, world):
    signed = sign(message(sender=f"news@mail.{SHOP}"), world.keys["s2048"], "s2048", SHOP)
    results = f"dkim=pass header.d={SHOP}; spf=pass smtp.mailfrom=bounce@{SHOP}; dmarc=fail header.from=mail.{SHOP}"
    report = analyze(resolver, delivered(signed, results))
    dmarc = report["verify"]["dmarc"]
    assert dmarc["adkim"] == "s"
    assert dmarc["dkim_aligned"] is False
    assert dmarc["spf_aligned"] is False
    assert dmarc["result"] == "fail"
    assert dmarc["policy"] == "quarantine"


def relisted(world, rewrite_from: bool) -> bytes:
    """A list re-sends the shop's message: tag, footer, optional From rewrite, its own signature."""
    listed = list_hop(world, shop_signed(world))
    if rewrite_from:
        listed = listed.replace(f"From: Shop News <news@{SHOP}>".encode(), b"From: Shop News via shop-news <shop-news@list.example.com>\r\nX-Original-From: Shop News <news@shop.example.org>")
    listed = b"List-Id: <shop-news.list.example.com>\r\n" + listed
    resigned = sign(listed, world.keys["list"], "arc", "list.example.com")
    results = "spf=pass smtp.mailfrom=bounce@list.example.com; dkim=fail header.d=shop.example.org; dkim=pass header.d=list.example.com; arc=pass"
    return delivered(resigned, results, ip=LIST_IP, helo="mail.list.example.com")


def test_list_without_rewrite_fails_dmarc(resolver, world):
    report = analyze(resolver, relisted(world, rewrite_from=False))
    verify = report["verify"]
    shop = next(entry for entry in verify["dkim"] if entry["d"] == SHOP)
    assert shop["reason"] == "body-hash-mismatch"
    assert shop["body_change"]["kind"] == "appended"
    assert shop["after_signing_hops"] == ["lists.list.example.com"]
    assert verify["spf"]["mailfrom_result"] == "pass"
    assert verify["dmarc"]["result"] == "fail"
    assert verify["dmarc"]["policy"] == "reject"


def test_list_rewrites_from_passes_dmarc(resolver, world):
    report = analyze(resolver, relisted(world, rewrite_from=True))
    verify = report["verify"]
    assert verify["dmarc"]["from_domain"] == "list.example.com"
    assert verify["dmarc"]["result"] == "pass"
    assert verify["dmarc"]["policy"] == "none"
    assert verify["arc"]["result"] == "fail"


def test_dmarc_none_but_record_now(resolver, world):
    results = f"dkim=pass header.d={SHOP}; spf=pass smtp.mailfrom=bounce@{SHOP}; dmarc=none header.from={SHOP}"
    report = analyze(resolver, delivered(shop_signed(world), results))
    assert report["verify"]["dmarc"]["record"] == "v=DMARC1; p=reject"
    assert outcome(report, "verify-dmarc-record-published") == "fail"


def test_receiver_fail_now_pass(resolver, world):
    results = f"dkim=fail (no key for signature) header.d={SHOP} header.s=s2048; spf=pass smtp.mailfrom=bounce@{SHOP}; dmarc=pass header.from={SHOP}"
    report = analyze(resolver, delivered(shop_signed(world), results))
    assert outcome(report, "verify-dkim-receiver-fail-now-pass") == "fail"


def test_receiver_pass_now_fail(resolver, world):
    signed = sign(message(), world.keys["s2048"], "s2025", SHOP)
    results = f"dkim=pass header.d={SHOP} header.s=s2025; spf=pass smtp.mailfrom=bounce@{SHOP}; dmarc=pass header.from={SHOP}"
    report = analyze(resolver, delivered(signed, results))
    entry = report["verify"]["dkim"][0]
    assert entry["reason"] == "key-not-found"
    assert "removed or revoked" in entry["since_receipt"]
    assert outcome(report, "verify-dkim-receiver-pass-now-fail") == "fail"


def test_body_rule_names_signature(resolver, world):
    results = PASSING.replace("dkim=pass", "dkim=fail (body hash did not verify)")
    report = analyze(resolver, delivered(shop_signed(world) + b"Disclaimer: sent from Example Gateway\r\n", results))
    finding = next(entry for entry in report["findings"] if entry["name"] == "dkim-body-modified")
    assert "s2048" in finding["message"]
    assert "appended" in finding["message"]
    assert " by " not in finding["message"]


def test_headers_only_not_verified(resolver, world):
    headers_only = delivered(shop_signed(world), PASSING).partition(b"\r\n\r\n")[0] + b"\r\n"
    report = analyze(resolver, headers_only)
    assert "verify" not in report


def test_spf_no_query_escapes(monkeypatch, resolver, world):
    calls = []

    def forbidden(*args, **kwargs):
        calls.append(args)
        raise AssertionError("pyspf asked dnspython's system resolver")

    monkeypatch.setattr(dns.resolver, "query", forbidden)
    monkeypatch.setattr(dns.resolver, "resolve", forbidden)
    report = analyze(resolver, delivered(shop_signed(world), PASSING, helo="list.example.com", ip=LIST_IP))
    assert report["verify"]["spf"]["helo_result"] == "pass"
    assert calls == []


@pytest.mark.parametrize("rewrite_from", [False, True])
def test_list_findings_exit_cleanly(resolver, world, rewrite_from):
    report = analyze(resolver, relisted(world, rewrite_from))
    assert all(entry["outcome"] in ("pass", "fail", "not_applicable", "error") for entry in report["outcomes"])
