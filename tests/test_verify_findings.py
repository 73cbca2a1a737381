"""Findings from maildiag's own verification: failures no receiver reported, DNS timeouts,
two signatures, copies that differ from the delivered one, whitespace changes under c=simple,
x= before Date, ARC breaks, and the Markdown report."""

import email.utils
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diag.dns import resolver as status
from diag.dns.live import LiveResolver
from diag.dns.resolver import Answer
from diag.engine.loader import load_rules
from diag.pipeline import AnalyzeOptions, analyze_bytes
from diag.verify.collect import VerifySession
from tests.test_verify_arc import list_hop, relay_hop
from tests.test_verify_signing import (  # noqa: F401  (world and resolver are fixtures)
    EASY_DKIM_TOKEN,
    SES_SELECTOR,
    SHOP,
    delivered,
    message,
    resolver,
    sign,
    sign_with_times,
    world,
    world_knot,
)

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rules([])
FOOTER = b"--\r\nThis message was scanned by Example Gateway.\r\n"
LONG_SUBJECT = "Your invoice INV-2026-00917 for the quarter ending 31 December is ready to download from the customer portal"
SIMPLE = (b"simple", b"simple")


def analyze(resolver, data: bytes) -> dict:
    return analyze_bytes(data, source="test.eml", options=AnalyzeOptions(rules=RULES, offline=False, verify_session=VerifySession(resolver)))


def outcome(report: dict, name: str) -> dict:
    return next(entry for entry in report["outcomes"] if entry["name"] == name)


def finding(report: dict, name: str) -> dict:
    return next(entry for entry in report["findings"] if entry["name"] == name)


def text_of(entry: dict) -> str:
    return " ".join([entry.get("message", "")] + list(entry.get("fix", [])))


def shop_signed(world, **options) -> bytes:
    return sign(message(**options), world.keys["s2048"], "s2048", SHOP)


def ses_pair(world, customer_selector: str = EASY_DKIM_TOKEN) -> bytes:
    """A message signed the way Amazon SES signs with Easy DKIM: the customer's d= and amazonses.com."""
    signed = sign(message(), world.keys["token"], customer_selector, SHOP)
    return sign(signed, world.keys["ses"], SES_SELECTOR, "amazonses.com")


# --- failures only our own check finds -------------------------------------------------

def test_no_receiver_key_missing(resolver, world):
    report = analyze(resolver, sign(message(), world.keys["s2048"], "gone", SHOP))
    assert report["verify"]["dmarc"]["result"] == "fail"
    assert outcome(report, "verify-dmarc-fail")["outcome"] == "fail"
    assert outcome(report, "verify-dkim-aligned-fail")["outcome"] == "fail"
    message_text = finding(report, "verify-dmarc-fail")["message"]
    assert "p=reject" in message_text
    assert "NXDOMAIN" in message_text
    assert f"gone._domainkey.{SHOP}" in text_of(finding(report, "verify-dkim-aligned-fail"))


def test_no_receiver_exit_code(world, tmp_path):
    path = tmp_path / "sent.eml"
    path.write_bytes(sign(message(), world.keys["s2048"], "gone", SHOP))
    zones = [argument for zone in world.paths for argument in ("--zone", zone)]
    done = subprocess.run([sys.executable, "-m", "diag", "analyze", str(path), "--offline", *zones], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "verify-dmarc-fail" in done.stdout


def test_ses_customer_cname_gone(resolver, world):
    report = analyze(resolver, ses_pair(world, customer_selector="m5nq2x8c4v6b9z1k3j7h0g2f4d6s8a1p"))
    dmarc = report["verify"]["dmarc"]
    assert dmarc["result"] == "fail"
    assert dmarc["dkim_aligned_present"] is True
    result = finding(report, "verify-dmarc-fail")
    assert "d=shop.example.org" in result["message"]
    assert "m5nq2x8c4v6b9z1k3j7h0g2f4d6s8a1p.dkim.amazonses.com" in text_of(result)
    assert "get-email-identity" in text_of(result)


def test_ses_without_customer_signature(resolver, world):
    signed = sign(message(), world.keys["ses"], SES_SELECTOR, "amazonses.com")
    result = finding(analyze(resolver, signed), "verify-dmarc-fail")
    assert "only d=amazonses.com (Amazon SES) passed" in result["message"]
    assert "Easy DKIM" in text_of(result)


def test_receiver_verdict_steps_aside(resolver, world):
    results = f"dkim=fail (no key for signature) header.d={SHOP} header.s=gone; spf=fail smtp.mailfrom=bounce@{SHOP}; dmarc=fail header.from={SHOP}"
    report = analyze(resolver, delivered(sign(message(), world.keys["s2048"], "gone", SHOP), results))
    assert outcome(report, "dmarc-fail")["outcome"] == "fail"
    assert outcome(report, "verify-dmarc-fail")["outcome"] == "not_applicable"
    assert outcome(report, "verify-dkim-aligned-fail")["outcome"] == "pass"


# --- DNS timeouts ------------------------------------------------------------------------

@pytest.fixture
def silent_server():
    """A loopback UDP and TCP port that never answers, so every DNS query times out."""
    # The kernel picks a free UDP port, but the same TCP port may be taken: try again then.
    for _ in range(20):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", port))
        except OSError:
            udp.close()
            tcp.close()
            continue
        break
    tcp.listen(1)
    yield f"127.0.0.1:{port}"
    udp.close()
    tcp.close()


def test_timeout_body_still_judged(world, silent_server):
    report = analyze(LiveResolver([silent_server], timeout=0.2, retries=0), shop_signed(world) + FOOTER)
    signature = report["verify"]["dkim"][0]
    assert signature["result"] == "temperror"
    assert signature["body_intact"] is False
    assert signature["body_change"]["kind"] == "appended"
    assert outcome(report, "dkim-body-modified")["outcome"] == "fail"


@pytest.mark.parametrize("name", ["dkim-header-modified", "dkim-key-revoked", "dkim-signature-expired", "verify-dkim-aligned-fail", "verify-dmarc-fail"])
def test_timeout_rules_error(world, silent_server, name):
    report = analyze(LiveResolver([silent_server], timeout=0.2, retries=0), shop_signed(world))
    assert outcome(report, name)["outcome"] == "error"


class KeyTimeoutResolver:
    """Zone-file responses, except that DKIM key lookups time out."""

    def __init__(self, inner):
        self.inner = inner

    def query(self, name, rdtype):
        if "._domainkey." in name:
            return Answer(name=name, rdtype=rdtype, status=status.TIMEOUT, detail="no answer in 1 s")
        return self.inner.query(name, rdtype)


def test_key_timeout_dmarc_temperror(world):
    report = analyze(KeyTimeoutResolver(world.zone_resolver()), shop_signed(world))
    assert report["verify"]["dmarc"]["policy"] == "reject"
    assert report["verify"]["dmarc"]["result"] == "temperror"
    assert outcome(report, "verify-dmarc-fail")["outcome"] == "error"


# --- two signatures: the aligned one first -----------------------------------------------

def test_aligned_signature_first(resolver, world):
    report = analyze(resolver, ses_pair(world) + FOOTER)
    assert [entry["d"] for entry in report["verify"]["dkim"]] == [SHOP, "amazonses.com"]
    assert report["verify"]["dkim"][0]["aligned"] is True
    assert report["verify"]["dkim"][1]["esp"] == "amazonses"
    result = finding(report, "dkim-body-modified")
    assert result["message"].index(f"d={SHOP}") < result["message"].index("d=amazonses.com")
    assert "aligns with From" in result["message"]


# --- this copy differs from the one the receiver checked ---------------------------

def test_receiver_body_fail_now_pass(resolver, world):
    results = f"dkim=fail (body hash did not verify) header.d={SHOP} header.s=s2048; spf=pass smtp.mailfrom=bounce@{SHOP}; dmarc=pass header.from={SHOP}"
    report = analyze(resolver, delivered(shop_signed(world), results))
    now_pass = finding(report, "verify-dkim-receiver-fail-now-pass")
    assert "not the one the receiver checked" in now_pass["message"]
    assert "published or fixed after delivery" not in now_pass["message"]
    assert "not the copy the receiver checked" in text_of(finding(report, "dkim-fail"))


def test_receiver_pass_body_changed_after(resolver, world):
    results = f"dkim=pass header.d={SHOP} header.s=s2048; spf=pass smtp.mailfrom=bounce@{SHOP}; dmarc=pass header.from={SHOP}"
    report = analyze(resolver, delivered(shop_signed(world), results) + FOOTER)
    assert outcome(report, "dkim-body-modified")["outcome"] == "pass"
    result = finding(report, "verify-dkim-receiver-pass-now-fail")
    assert "after delivery" in result["message"]
    assert "after delivery" in result["fix"][0]
    assert "rotating" not in text_of(result)


# --- whitespace changes under c=simple ---------------------------------------------

def folded_at(subject: str, position: int) -> str:
    space = subject.index(" ", position)
    return subject[:space] + "\r\n" + subject[space:]


@pytest.mark.parametrize("signed_subject, relayed_subject", [
    pytest.param(LONG_SUBJECT, folded_at(LONG_SUBJECT, 55), id="fold-added"),
    pytest.param(folded_at(LONG_SUBJECT, 55), folded_at(LONG_SUBJECT, 30), id="fold-moved"),
    pytest.param(folded_at(LONG_SUBJECT, 55), LONG_SUBJECT, id="fold-removed"),
    pytest.param(LONG_SUBJECT, "\t" + LONG_SUBJECT, id="tab-after-colon"),
])
def test_simple_whitespace_change(resolver, world, signed_subject, relayed_subject):
    signed = sign(message(subject=signed_subject), world.keys["s2048"], "s2048", SHOP, canonicalize=SIMPLE)
    relayed = signed.replace(f"Subject: {signed_subject}".encode(), f"Subject: {relayed_subject}".encode().replace(b"Subject: \t", b"Subject:\t"))
    assert relayed != signed
    report = analyze(resolver, relayed)
    change = report["verify"]["dkim"][0]["header_change"]
    assert change["kind"] == "refolded"
    assert change["fields"] == ["Subject"]
    fix = finding(report, "dkim-header-modified")["fix"][0]
    assert "c=relaxed/simple" in fix
    assert "Amazon SES" not in fix


def test_header_fix_reads(resolver, world):
    signed = shop_signed(world, subject="Statement")
    report = analyze(resolver, signed.replace(b"Subject: Statement", b"Subject: Your statement"))
    fix = finding(report, "dkim-header-modified")["fix"][0]
    assert "edits a hop" not in fix
    assert "edits the Subject" not in fix
    assert fix.startswith("Find the hop")


# --- x= before Date ----------------------------------------------------------------------

def test_expired_before_date(resolver, world):
    now = int(time.time())
    dated = message(date=email.utils.formatdate(now, usegmt=True))
    report = analyze(resolver, sign_with_times(dated, world.keys["s2048"], "s2048", SHOP, signed_at=now - 7200, expires=now - 3600))
    assert report["verify"]["dkim"][0]["expired_before_date"] is True
    result = finding(report, "dkim-signature-expired-before-sent")
    assert result["severity"] == "warning"
    assert "clock" in text_of(result)
    assert outcome(report, "dkim-signature-expired")["outcome"] == "pass"


def test_expired_after_date(resolver, world):
    now = int(time.time())
    dated = message(date=email.utils.formatdate(now - 30 * 86400, usegmt=True))
    report = analyze(resolver, sign_with_times(dated, world.keys["s2048"], "s2048", SHOP, signed_at=now - 30 * 86400, expires=now - 29 * 86400))
    assert outcome(report, "dkim-signature-expired-before-sent")["outcome"] == "pass"
    assert "valid but expired: the signature is valid" not in finding(report, "dkim-signature-expired")["message"]


# --- ARC ---------------------------------------------------------------------------------

def arc_results() -> str:
    return f"arc=pass; dkim=fail header.d={SHOP}; spf=pass smtp.mailfrom=bounce@list.example.com; dmarc=fail header.from={SHOP}"


@pytest.mark.parametrize("tamper, body_intact, words", [
    pytest.param(lambda data: data + b"Appended after the relay sealed it.\r\n", False, "body", id="body"),
    pytest.param(lambda data: data.replace(b"Subject: [shop-news]", b"Subject: [shop-news] [ext]"), True, "signed header fields", id="header"),
])
def test_arc_break_part(resolver, world, tamper, body_intact, words):
    sealed = relay_hop(world, list_hop(world, shop_signed(world)))
    report = analyze(resolver, delivered(tamper(sealed), arc_results()))
    broken = report["verify"]["arc"]["broken"]
    assert broken["part"] == "message-signature"
    assert broken["body_intact"] is body_intact
    assert broken["key_name"] == "arc._domainkey.relay.example.com"
    fix = " ".join(finding(report, "verify-arc-broken")["fix"])
    assert f"changed the {words}" in fix
    assert "dig TXT arc._domainkey.relay.example.com" in fix
    assert "<selector>" not in fix


def test_arc_timeout_names_once(world, silent_server):
    sealed = relay_hop(world, list_hop(world, shop_signed(world)))
    report = analyze(LiveResolver([silent_server], timeout=0.2, retries=0), delivered(sealed, arc_results()))
    detail = report["verify"]["arc"]["detail"]
    assert report["verify"]["arc"]["result"] == "temperror"
    assert detail.count("arc._domainkey.relay.example.com") == 1


# --- Markdown ---------------------------------------------------------------------------

def test_markdown_verification_table(world, tmp_path):
    path = tmp_path / "message.eml"
    path.write_bytes(shop_signed(world) + FOOTER)
    zones = [argument for zone in world.paths for argument in ("--zone", zone)]
    done = subprocess.run([sys.executable, "-m", "diag", "analyze", str(path), "--offline", "-f", "markdown", *zones], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "#### Our verification" in done.stdout, done.stderr
    assert "| DKIM 0 | `fail` |" in done.stdout


# --- 7-bit advice -----------------------------------------------------------------------

def base64_relayed(signed: bytes) -> bytes:
    """Re-encode the single-part body of `signed` as base64, as a converting relay does."""
    import base64

    head, _, body = signed.partition(b"\r\n\r\n")
    encoded = base64.encodebytes(body).replace(b"\n", b"\r\n")
    return head + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + encoded


def test_reencoded_7bit_no_advice(resolver, world):
    report = analyze(resolver, base64_relayed(shop_signed(world)))
    change = report["verify"]["dkim"][0]["body_change"]
    assert change["kind"] == "reencoded"
    assert change["signed_7bit"] is True
    assert "send the body as 7-bit" not in finding(report, "dkim-body-modified")["fix"][0]


def test_reencoded_8bit_advice(resolver, world):
    signed = shop_signed(world, body="Grüße,\r\n\r\nIhre Rechnung liegt bei.\r\n".encode("utf-8"), extra=b"Content-Transfer-Encoding: 8bit\r\n")
    report = analyze(resolver, base64_relayed(signed.replace(b"Content-Transfer-Encoding: 8bit\r\n", b"")))
    assert report["verify"]["dkim"][0]["body_change"]["signed_7bit"] is False
    assert "send the body as 7-bit" in finding(report, "dkim-body-modified")["fix"][0]
