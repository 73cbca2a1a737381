"""Readable evidence values and DNS summary rows: what an expert would write, never a JSON dump."""

import json
import subprocess
import sys
from pathlib import Path

from diag.report.dnsview import dns_rows, spf_trees
from diag.report.evidence import format_value, signed_duration

ROOT = Path(__file__).resolve().parent.parent

SCL_DECODED = {
    "doc_date": "2026-05-21",
    "documented": True,
    "group": "spam",
    "meaning": "Spam filtering marked the message as spam.",
    "source": "https://learn.microsoft.com/en-us/defender-office-365/anti-spam-spam-confidence-level-scl-about",
    "value": 5,
}

TIMEOUT_QUERY = {"answer": [], "detail": "127.0.0.1:5399: timed out after 0.3 s; 127.0.0.1:5399: timed out after 0.3 s", "name": "amazonses.com", "server": "127.0.0.1:5399", "status": "timeout", "type": "TXT"}
OK_QUERY = {"answer": ["v=spf1 include:amazonses.com ~all"], "name": "example.com", "server": "zone:example.com.zone", "status": "ok", "ttl": 300, "type": "TXT"}

# dns.spf of a record found in a zone file whose include timed out at the resolver.
SPF_INCLUDE_TIMEOUT = {
    "domain": "example.com",
    "role": "from",
    "status": "temperror",
    "record": "v=spf1 include:amazonses.com ~all",
    "records": ["v=spf1 include:amazonses.com ~all"],
    "record_count": 1,
    "dns_lookups": 1,
    "query": OK_QUERY,
    "temperrors": [TIMEOUT_QUERY],
    "tree": {
        "domain": "example.com",
        "via": "top",
        "status": "ok",
        "record": "v=spf1 include:amazonses.com ~all",
        "query": OK_QUERY,
        "terms": [
            {"term": "include:amazonses.com", "child": {"domain": "amazonses.com", "via": "include", "status": "temperror", "query": TIMEOUT_QUERY, "records": []}},
            {"term": "~all"},
        ],
    },
}


def test_decoded_code_value_and_meaning():
    assert format_value(SCL_DECODED) == "5 — Spam filtering marked the message as spam."


def test_decoded_code_undocumented():
    assert format_value({"value": "5xx", "documented": False}) == "5xx — not documented by Microsoft"


def test_dkim_verdicts_one_a_line():
    verdicts = [
        {"aligned": False, "domain": "amazonses.com", "result": "pass", "selector": None, "signature": 0, "reason": None},
        {"aligned": True, "domain": "example.com", "result": "fail", "selector": "s1", "signature": 1, "reason": "body hash did not verify"},
    ]
    lines = format_value(verdicts).splitlines()
    assert lines[0] == "d=amazonses.com pass (not aligned)"
    assert lines[1] == "d=example.com s=s1 fail (aligned, body hash did not verify)"


def test_received_hop_line():
    hop = {"from": "a8-10.smtp-out.amazonses.com", "from_ip": "198.51.100.10", "by": "mx.example.net", "delay_seconds": 2.0, "tls": False, "raw": "from ..."}
    assert format_value(hop) == "from a8-10.smtp-out.amazonses.com (198.51.100.10) by mx.example.net, +2 s, no TLS"


def test_duration_minutes_and_negative():
    assert signed_duration(425) == "+7 min 5 s"
    assert signed_duration(-3) == "-3 s"
    assert signed_duration(3720) == "+1 h 2 min"


def test_verified_signature_line():
    signature = {"index": 1, "d": "example.com", "s": "s1", "result": "fail", "reason": "body-hash-mismatch", "receiver_result": "pass"}
    assert format_value(signature) == "#1 d=example.com s=s1 fail (body-hash-mismatch; receiver: pass)"


def test_spf_tree_names_lookup_status():
    text = format_value(SPF_INCLUDE_TIMEOUT["tree"])
    assert text.splitlines() == ['example.com "v=spf1 include:amazonses.com ~all"', "  `- include:amazonses.com TXT timeout"]


ARC_FIRST_HOP = {
    "authserv_id": "mx.example.net", "dkim": [{"aligned": True, "domain": "example.com", "result": "pass"}],
    "dkim_aligned_pass": True, "dmarc": "pass", "dmarc_policy": None, "from_authenticated": True,
    "header_from": "example.com", "instance": 1, "position": 9, "sealer": "example.net", "spf": "pass",
    "spf_aligned": False, "spf_aligned_pass": False, "spf_domain": "bounce.example.org",
}


def test_arc_first_hop_line():
    text = format_value(ARC_FIRST_HOP)
    assert text.startswith("i=1 mx.example.net: ")
    assert "spf=pass (bounce.example.org, not aligned)" in text
    assert "dkim=pass (example.com)" in text
    assert "dmarc=pass header.from=example.com" in text
    assert "from_authenticated" not in text


def test_esp_evidence_one_line():
    clues = [
        {"esp": "amazonses", "field": "Feedback-ID", "strength": "strong", "value": "AmazonSES"},
        {"esp": "amazonses", "field": "Message-ID", "strength": "weak", "value": "amazonses.com"},
    ]
    assert format_value(clues) == "Feedback-ID AmazonSES (strong), Message-ID amazonses.com (weak)"


def test_generic_mapping_key_values():
    assert format_value({"max_24_hour_send": 200.0, "max_send_rate": 1.0, "sent_last_24_hours": None}) == "max_24_hour_send=200; max_send_rate=1"


def test_nested_dns_answer_read_as_dig():
    problem = {"name": "t1._domainkey.example.com", "status": "txt_instead", "query": {"name": "t1._domainkey.example.com", "type": "CNAME", "status": "nodata", "answer": [], "ttl": 300}}
    assert format_value(problem) == "name=t1._domainkey.example.com; status=txt_instead; query=t1._domainkey.example.com CNAME nodata (ttl 300)"


def test_scalars_and_lists():
    assert format_value(False) == "false"
    assert format_value([]) == "(none)"
    assert format_value(["a", "b"]) == "a, b"
    assert format_value(1.5) == "1.5"


def test_no_json_braces_in_readable_values():
    for value in (SCL_DECODED, SPF_INCLUDE_TIMEOUT["tree"], [SCL_DECODED]):
        assert "{" not in format_value(value)


def test_spf_temperror_row_names_failed_lookup():
    row = dns_rows({"spf": [SPF_INCLUDE_TIMEOUT]})[0]
    assert row.result == "temperror"
    assert "(ok)" not in row.detail
    assert row.detail == 'example.com: "v=spf1 include:amazonses.com ~all"; lookup failed temporarily: amazonses.com TXT timeout (127.0.0.1:5399: timed out after 0.3 s); retry later'


def test_spf_tree_row_lookup_status():
    tree = spf_trees({"spf": [SPF_INCLUDE_TIMEOUT]})[0]
    assert tree.lines[1] == "  `- include:amazonses.com TXT timeout"


def test_dmarc_temperror_row_names_status():
    dmarc = {"domain": "example.com", "status": "temperror", "queries": [{"name": "_dmarc.example.com", "type": "TXT", "status": "servfail", "answer": []}]}
    assert dns_rows({"dmarc": dmarc})[0].detail == "_dmarc.example.com: lookup failed temporarily: _dmarc.example.com TXT servfail; retry later"


def test_easy_dkim_temperror_not_missing():
    entry = {"name": "t1._domainkey.example.com", "expected_target": "t1.dkim.amazonses.com", "status": "temperror", "queries": [{"name": "t1._domainkey.example.com", "type": "CNAME", "status": "timeout", "answer": []}]}
    row = dns_rows({"ses_dkim": {"entries": [entry]}})[0]
    assert row.result == "temperror"
    assert "no CNAME" not in row.detail
    assert "t1._domainkey.example.com CNAME timeout" in row.detail


def test_json_report_keeps_raw_values():
    # The readable form is for people: the JSON report still carries the whole decoded entry.
    done = subprocess.run(
        [sys.executable, "-m", "diag", "analyze", "--offline", "-f", "json", "samples/headers/ses-to-m365-spoof.txt"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    message = json.loads(done.stdout)["messages"][0]
    junk = next(finding for finding in message["findings"] if finding["name"] == "microsoft-junk")
    decoded = next(item["value"] for item in junk["evidence"] if item["path"] == "microsoft.decoded.scl")
    assert decoded["value"] == 5
    assert decoded["source"].startswith("https://learn.microsoft.com/")
