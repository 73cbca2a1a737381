"""The verify rules on their own samples, and `maildiag analyze` end to end with zone files and Knot.

The samples in samples/verify/ were signed by samples/verify/generate.py with keys published
in samples/zones/verify-*.zone.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rulesamples import sample_cases

from diag.dns.zonefile import ZoneResolver
from diag.engine.loader import load_rules
from diag.pipeline import AnalyzeOptions, analyze_bytes
from diag.verify.collect import VerifySession

ROOT = Path(__file__).resolve().parent.parent
ZONES = sorted(str(path) for path in (ROOT / "samples" / "zones").glob("*.zone"))
RULES = load_rules([])
VERIFY_RULES = [rule for rule in RULES if rule.code.startswith("MD7")]


@pytest.fixture(scope="module")
def session():
    return VerifySession(ZoneResolver(ZONES))


@pytest.mark.parametrize("rule_name, sample, expected", list(sample_cases(VERIFY_RULES)))
def test_rule_sample(session, rule_name, sample, expected):
    data = (ROOT / sample).read_bytes()
    report = analyze_bytes(data, source=sample, options=AnalyzeOptions(rules=RULES, offline=False, verify_session=session))
    outcome = next(entry for entry in report["outcomes"] if entry["name"] == rule_name)
    assert outcome["outcome"] == expected, outcome.get("detail")


def test_every_verify_rule_has_samples():
    assert len(VERIFY_RULES) >= 11
    for rule in VERIFY_RULES:
        assert rule.samples_fail, rule.name
        assert rule.samples_pass, rule.name


def maildiag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diag", "analyze", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def zone_args() -> list[str]:
    return [argument for path in ZONES for argument in ("--zone", path)]


def test_cli_tampered_says_what_changed():
    done = maildiag("samples/verify/footer-appended.eml", "--offline", *zone_args())
    assert done.returncode == 0, done.stderr
    assert "Our verification" in done.stdout
    assert "signature 0 (d=verify-shop.example.org s=s2026), broke" in " ".join(done.stdout.split())
    assert "bytes were appended after signing" in " ".join(done.stdout.split())
    assert "Example Gateway" in done.stdout
    assert done.stderr == ""


def test_cli_refolded_json():
    done = maildiag("samples/verify/subject-tagged.eml", "--offline", "-f", "json", *zone_args())
    message = json.loads(done.stdout)["messages"][0]
    signature = message["verify"]["dkim"][0]
    assert signature["reason"] == "header-signature-mismatch"
    assert signature["receiver_result"] == "fail"
    assert message["verdicts"]["dkim"][0]["result"] == "fail"


def test_cli_offline_skips_verify():
    done = maildiag("samples/verify/footer-appended.eml", "--offline", "-f", "json")
    message = json.loads(done.stdout)["messages"][0]
    assert "verify" not in message
    assert message["content"]["has_body"] is True


def test_cli_bad_zone_is_usage_error():
    done = maildiag("samples/verify/good.eml", "--offline", "--zone", "samples/verify/missing.zone")
    assert done.returncode == 2
    assert "missing.zone" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.dns
def test_cli_knot_nameserver(knot):
    done = maildiag("samples/verify/key-rotated.eml", "--nameserver", knot.address, "-f", "json")
    message = json.loads(done.stdout)["messages"][0]
    assert message["verify"]["dkim"][0]["reason"] == "key-not-found"
    assert message["verify"]["spf"]["mailfrom_result"] == "pass"
    names = {finding["name"] for finding in message["findings"]}
    assert "verify-dkim-receiver-pass-now-fail" in names


def test_cli_html_section(tmp_path):
    output = tmp_path / "report.html"
    done = maildiag("samples/verify/arc-tampered.eml", "--offline", "-f", "html", "-o", str(output), *zone_args())
    assert done.returncode == 1, done.stderr
    html = output.read_text()
    assert "<h3>Our verification</h3>" in html
    assert "does not verify: the body changed after that hop sealed it" in html
