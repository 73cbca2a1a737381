"""`maildiag analyze` joined with DNS as it is now (diag.dnscheck.message and rules/dns-join-*.yaml).

The header samples in samples/dnsjoin/ carry the receiver's verdicts at delivery, and
samples/zones/dnsjoin.example.net.zone contains the DNS of "now" that each sample differs from.
"""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rulesamples import sample_cases
from click.testing import CliRunner

from diag.cli import cli
from diag.dns.zonefile import ZoneResolver
from diag.dnscheck.message import collect_message_dns
from diag.engine.loader import load_rules
from diag.facts.build import build_facts
from diag.messages.reader import read_message
from diag.pipeline import AnalyzeOptions, analyze_bytes
from diag.verify.collect import VerifySession

ROOT = Path(__file__).resolve().parent.parent
ZONES = sorted(str(path) for path in (ROOT / "samples" / "zones").glob("*.zone"))
JOIN_ZONE = str(ROOT / "samples" / "zones" / "dnsjoin.example.net.zone")
SAMPLES = ROOT / "samples" / "dnsjoin"
RULES = load_rules([])
JOIN_RULES = [rule for rule in RULES if rule.name.startswith("dns-join-")]


@pytest.fixture(scope="module")
def session():
    return VerifySession(ZoneResolver(ZONES))


def analyze(sample: str, session: VerifySession) -> dict:
    data = (ROOT / sample).read_bytes()
    return analyze_bytes(data, source=sample, options=AnalyzeOptions(rules=RULES, offline=False, verify_session=session))


def outcome(report: dict, name: str) -> dict:
    return next(entry for entry in report["outcomes"] if entry["name"] == name)


def message_dns(sample: str, resolver) -> dict:
    parsed = read_message((SAMPLES / sample).read_bytes(), source=sample)
    return collect_message_dns(resolver, build_facts(parsed))


@pytest.mark.parametrize("rule_name, sample, expected", list(sample_cases(JOIN_RULES)))
def test_rule_sample(session, rule_name, sample, expected):
    assert outcome(analyze(sample, session), rule_name)["outcome"] == expected


def test_every_join_rule_has_samples():
    assert len(JOIN_RULES) >= 6
    for rule in JOIN_RULES:
        assert rule.samples_fail, rule.name
        assert rule.samples_pass, rule.name


def test_healthy_sample_has_no_findings(session):
    report = analyze("samples/dnsjoin/healthy.txt", session)
    assert report["input"]["kind"] == "headers"
    assert report["findings"] == []


def test_posture_rules_run_on_headers(session):
    report = analyze("samples/dnsjoin/dmarc-doubled.txt", session)
    assert outcome(report, "dmarc-record-missing")["outcome"] == "fail"
    assert outcome(report, "spf-record-missing")["outcome"] == "pass"
    assert outcome(report, "dkim-key-weak")["outcome"] == "pass"


def test_token_rules_not_applicable(session):
    report = analyze("samples/dnsjoin/healthy.txt", session)
    for name in ("ses-dkim-tokens-unknown", "ses-dkim-cnames-missing", "dns-name-doubled", "dmarc-record-policy-weak"):
        assert outcome(report, name)["outcome"] == "not_applicable", name


def test_key_status_nxdomain():
    key = message_dns("dkim-key-rotated.txt", ZoneResolver(ZONES))["message"]["dkim"][0]
    assert key["name"] == "old2025._domainkey.shop.dnsjoin.example.net"
    assert key["status"] == "nxdomain"
    assert key["receiver_result"] == "pass"
    assert key["aligned"] is True


def test_key_status_revoked():
    key = message_dns("dkim-key-revoked.txt", ZoneResolver(ZONES))["message"]["dkim"][0]
    assert key["status"] == "revoked"
    assert key["receiver_result"] == "fail"


def test_key_bits():
    key = message_dns("healthy.txt", ZoneResolver(ZONES))["message"]["dkim"][0]
    assert key["status"] == "ok"
    assert key["bits"] == 2048
    assert key["weak"] is False


def test_return_path_result_now():
    return_path = message_dns("spf-now-fail.txt", ZoneResolver(ZONES))["message"]["return_path"]
    assert return_path["domain"] == "shop.dnsjoin.example.net"
    assert return_path["ip"] == "203.0.113.9"
    assert return_path["receiver_result"] == "pass"
    assert return_path["result_now"] == "fail"
    assert return_path["record"] == "v=spf1 ip4:192.0.2.0/24 -all"


def test_dmarc_misplaced_record():
    dmarc = message_dns("dmarc-doubled.txt", ZoneResolver(ZONES))["message"]["dmarc"]
    assert dmarc["receiver_result"] == "none"
    assert dmarc["misplaced_record"]["name"] == "_dmarc.doubled.dnsjoin.example.net.doubled.dnsjoin.example.net"


def test_dmarc_policy_changed():
    dmarc = message_dns("dmarc-policy-changed.txt", ZoneResolver(ZONES))["message"]["dmarc"]
    assert dmarc["receiver_policy"] == "none"
    assert dmarc["policy_now"] == "reject"
    assert dmarc["policy_changed"] is True


def test_uncovered_name_is_temperror():
    # Offline, a name that no zone file covers gets the status `refused`, which is temperror, never "no record".
    facts = message_dns("healthy.txt", ZoneResolver([str(ROOT / "samples" / "zones" / "example.com.zone")]))
    assert facts["temperror"] is True
    assert facts["message"]["dkim"][0]["status"] == "temperror"
    assert facts["message"]["return_path"]["record_status"] == "temperror"
    assert facts["dmarc"]["status"] == "temperror"


def maildiag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diag", "analyze", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def finding_names(done: subprocess.CompletedProcess) -> set[str]:
    message = json.loads(done.stdout)["messages"][0]
    return {finding["name"] for finding in message["findings"]}


def test_cli_zone_file():
    done = maildiag("samples/dnsjoin/spf-now-fail.txt", "--offline", "--zone", JOIN_ZONE, "-f", "json")
    assert done.returncode == 0, done.stderr
    assert finding_names(done) == {"dns-join-spf-now-fail"}


@pytest.mark.dns
def test_cli_knot_findings(knot):
    expected = {
        "dmarc-published.txt": {"dns-join-dmarc-published", "dmarc-none"},
        "dkim-key-rotated.txt": {"dns-join-dkim-key-gone"},
        "dkim-key-revoked.txt": {"dns-join-dkim-key-missing", "dkim-fail"},
        "spf-now-pass.txt": {"dns-join-spf-now-pass", "spf-fail"},
        "healthy.txt": set(),
    }
    # One run for every sample: a run starts in about a second, most of it imports.
    done = maildiag(*(f"samples/dnsjoin/{sample}" for sample in expected), "--nameserver", knot.address, "-f", "json")
    messages = json.loads(done.stdout)["messages"]
    for (sample, names), message in zip(expected.items(), messages, strict=True):
        assert {finding["name"] for finding in message["findings"]} == names, sample


@pytest.mark.dns
def test_cli_knot_servfail_exit_3(knot, tmp_path):
    # Knot answers SERVFAIL for broken.example.net (tests/fixtures/knot.py).
    headers = (SAMPLES / "healthy.txt").read_text().replace("shop.dnsjoin.example.net", "shop.broken.example.net")
    path = tmp_path / "servfail.txt"
    path.write_text(headers)
    done = maildiag(str(path), "--nameserver", knot.address, "-f", "json")
    assert done.returncode == 3, done.stdout
    message = json.loads(done.stdout)["messages"][0]
    errors = {entry["name"] for entry in message["outcomes"] if entry["outcome"] == "error"}
    assert "dmarc-record-missing" in errors
    assert "spf-record-missing" in errors
    assert message["findings"] == []


class NetworkUsed(AssertionError):
    pass


def test_offline_opens_no_socket(monkeypatch):
    attempts = []

    def refuse(self, *args):
        attempts.append(args)
        raise NetworkUsed(f"--offline tried to reach {args!r}")

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse)
    result = CliRunner().invoke(cli, ["analyze", str(SAMPLES / "dkim-key-rotated.txt"), "--offline", "-f", "json"])
    assert attempts == []
    assert result.exit_code == 0, result.output
    message = json.loads(result.output)["messages"][0]
    assert "dns" not in message
    assert outcome(message, "dns-join-dkim-key-gone")["outcome"] == "not_applicable"


def test_invalid_include_keeps_message(tmp_path):
    # A label over 63 octets (RFC 1035 section 2.3.4) is no DNS name, so the include cannot be asked.
    zone = tmp_path / "shop.dnsjoin.example.net.zone"
    zone.write_text(
        "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 604800 300\n@ NS ns1\n"
        f'@ TXT "v=spf1 include:{"a" * 70}.example.net -all"\n'
    )
    session = VerifySession(ZoneResolver([str(zone)]))
    report = analyze("samples/dnsjoin/healthy.txt", session)
    assert "label" in report["dns"]["message"]["error"]
    assert outcome(report, "spf-record-missing")["outcome"] == "not_applicable"
    assert outcome(report, "dmarc-fail")["outcome"] == "pass"


def test_cli_uncovered_name_named():
    # Retrying cannot help a name outside every zone file, so the line names it instead.
    done = maildiag("samples/dnsjoin/healthy.txt", "--offline", "--zone", str(ROOT / "samples" / "zones" / "example.com.zone"))
    text = " ".join(done.stdout.split())
    assert "Could not check, no zone file covers" in text
    assert "add one with --zone, or drop --offline" in text
    assert "retry later" not in text
