"""SARIF reporter: a valid SARIF 2.1.0 log with one rule per code and one result per finding."""

import io
import json
from pathlib import Path

import jsonschema
import pytest

from diag.report import render
from diag.report.sarif import LEVELS, artifact_location

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "samples" / "reports").glob("*.json"))
SCHEMA = json.loads((ROOT / "reports" / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8"))


def load_sample(name: str) -> dict:
    return json.loads((ROOT / "samples" / "reports" / name).read_text(encoding="utf-8"))


def render_sarif(report: dict) -> dict:
    stream = io.StringIO()
    render(report, "sarif", stream)
    return json.loads(stream.getvalue())


def schema_errors(document: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(document)]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.stem)
def test_sarif_matches_schema(sample):
    log = render_sarif(json.loads(sample.read_text(encoding="utf-8")))
    assert schema_errors(log) == []


def test_sarif_schema_rejects_bad_level():
    log = render_sarif(load_sample("ses-default-microsoft.json"))
    log["runs"][0]["results"][0]["level"] = "info"
    assert schema_errors(log) != []


def test_sarif_one_run_version():
    log = render_sarif(load_sample("ses-default-microsoft.json"))
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1


def test_sarif_rules_cover_outcomes():
    driver = render_sarif(load_sample("ses-default-microsoft.json"))["runs"][0]["tool"]["driver"]
    assert [rule["id"] for rule in driver["rules"]] == ["MD101", "MD102", "MD120", "MD130", "MD131", "MD150", "MD161"]
    assert driver["name"] == "maildiag"


def test_sarif_rule_documented_from_finding():
    driver = render_sarif(load_sample("ses-default-microsoft.json"))["runs"][0]["tool"]["driver"]
    rule = next(rule for rule in driver["rules"] if rule["id"] == "MD101")
    assert rule["name"] == "dkim-only-esp-signature"
    assert rule["shortDescription"]["text"] == "Only the sending service signs the message"
    assert rule["helpUri"] == "https://docs.aws.amazon.com/ses/latest/dg/send-email-authentication-dkim-easy.html"
    assert rule["properties"]["category"] == "dkim"


def test_sarif_levels_from_severity():
    results = render_sarif(load_sample("ses-default-microsoft.json"))["runs"][0]["results"]
    assert [result["level"] for result in results] == ["error", "error", "warning"]
    assert LEVELS == {"error": "error", "warning": "warning", "info": "note"}


def test_sarif_rule_index_points_at_rule():
    run = render_sarif(load_sample("ses-default-microsoft.json"))["runs"][0]
    for result in run["results"]:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_result_location_and_evidence():
    result = render_sarif(load_sample("ses-default-microsoft.json"))["runs"][0]["results"][0]
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "samples/headers/ses-default-microsoft.txt"}
    assert result["properties"]["evidence"][1] == {"path": "identities.from.domain", "value": "example.com"}
    assert result["message"]["text"].startswith("The only passing DKIM signature is d=amazonses.com")


def test_sarif_fingerprint_stable():
    first = render_sarif(load_sample("ses-default-microsoft.json"))["runs"][0]["results"]
    second = render_sarif(load_sample("ses-default-microsoft.json"))["runs"][0]["results"]
    assert [result["partialFingerprints"] for result in first] == [result["partialFingerprints"] for result in second]
    assert len({json.dumps(result["partialFingerprints"]) for result in first}) == len(first)


def test_sarif_dns_logical_location():
    result = render_sarif(load_sample("dns-domain.json"))["runs"][0]["results"][0]
    assert result["locations"][0]["logicalLocations"][0]["name"] == "example.com"
    assert "physicalLocation" not in result["locations"][0]


def test_sarif_notifications_for_errors():
    invocation = render_sarif(load_sample("ses-default-microsoft.json"))["runs"][0]["invocations"][0]
    texts = [notification["message"]["text"] for notification in invocation["toolExecutionNotifications"]]
    assert invocation["executionSuccessful"] is False
    assert "samples/headers/ses-default-microsoft.txt: could not check received-no-tls: lookup timed out; retry later" in texts
    assert "samples/headers/missing.txt: file not found" in texts


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("-", {"description": {"text": "standard input"}}),
        ("mail/a b.eml", {"uri": "mail/a%20b.eml"}),
        ("/srv/mail/x.eml", {"uri": "file:///srv/mail/x.eml"}),
        ("C:\\mail\\x.eml", {"uri": "file:///C:/mail/x.eml"}),
    ],
)
def test_sarif_artifact_location(path, expected):
    assert artifact_location(path) == expected
