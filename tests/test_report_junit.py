"""JUnit reporter: parseable XML whose counts match the rule outcomes."""

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from diag.report import render

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "samples" / "reports").glob("*.json"))


def load_sample(name: str) -> dict:
    return json.loads((ROOT / "samples" / "reports" / name).read_text(encoding="utf-8"))


def render_junit(report: dict) -> ET.Element:
    stream = io.StringIO()
    render(report, "junit", stream)
    return ET.fromstring(stream.getvalue().encode("utf-8"))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.stem)
def test_junit_counts_match_children(sample):
    root = render_junit(json.loads(sample.read_text(encoding="utf-8")))
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(1 for case in cases if case.find("failure") is not None)
        assert int(suite.get("errors")) == sum(1 for case in cases if case.find("error") is not None)
        assert int(suite.get("skipped")) == sum(1 for case in cases if case.find("skipped") is not None)
    assert int(root.get("tests")) == len(list(root.iter("testcase")))


def test_junit_one_case_per_outcome():
    root = render_junit(load_sample("ses-default-microsoft.json"))
    suite = root.find("testsuite")
    assert suite.get("name") == "samples/headers/ses-default-microsoft.txt"
    assert suite.get("tests") == "7"
    assert suite.get("failures") == "3"
    assert suite.get("errors") == "1"
    assert suite.get("skipped") == "1"


def test_junit_failure_carries_evidence_and_fix():
    root = render_junit(load_sample("ses-default-microsoft.json"))
    case = root.find(".//testcase[@name='MD131 spf-not-aligned']")
    failure = case.find("failure")
    assert failure.get("type") == "warning"
    assert failure.get("message").startswith("SPF passed for us-east-1.amazonses.com")
    assert "verdicts.spf_domain = us-east-1.amazonses.com" in failure.text
    assert "1. Set a custom MAIL FROM domain such as bounce.example.com" in failure.text


def test_junit_pass_is_plain_case():
    root = render_junit(load_sample("ses-default-microsoft.json"))
    case = root.find(".//testcase[@name='MD130 spf-fail']")
    assert list(case) == []


def test_junit_error_and_skipped():
    root = render_junit(load_sample("ses-default-microsoft.json"))
    assert root.find(".//testcase[@name='MD161 received-no-tls']/error").get("message") == "lookup timed out"
    assert root.find(".//testcase[@name='MD102 dkim-fail']/skipped").get("message") == "no signature aligns with From"


def test_junit_input_errors_suite():
    root = render_junit(load_sample("ses-default-microsoft.json"))
    suite = root.find("testsuite[@name='input']")
    assert suite.get("errors") == "1"
    assert suite.find("testcase/error").get("message") == "samples/headers/missing.txt: file not found"


def test_junit_control_characters_escaped():
    root = render_junit(load_sample("hostile-headers.json"))
    failure = root.find(".//testcase[@name='MD101 dkim-only-esp-signature']/failure")
    assert "\\x1b[31m" in failure.text


def test_junit_domain_suites():
    root = render_junit(load_sample("dns-domain.json"))
    assert [suite.get("name") for suite in root.findall("testsuite")] == ["example.com"]
    assert root.get("errors") == "1"
