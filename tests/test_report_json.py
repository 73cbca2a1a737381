"""JSON reporter: stable output that the published JSON Schema accepts."""

import copy
import io
import json
from pathlib import Path

import jsonschema
import pytest

from diag.report import render

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "samples" / "reports").glob("*.json"))
SCHEMA = json.loads((ROOT / "reports" / "schema" / "report.schema.json").read_text(encoding="utf-8"))


def load_sample(name: str) -> dict:
    return json.loads((ROOT / "samples" / "reports" / name).read_text(encoding="utf-8"))


def render_json(report: dict) -> str:
    stream = io.StringIO()
    render(report, "json", stream)
    return stream.getvalue()


def schema_errors(document: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(document)]


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.stem)
def test_json_output_matches_schema(sample):
    output = json.loads(render_json(json.loads(sample.read_text(encoding="utf-8"))))
    assert schema_errors(output) == []


def test_json_round_trip_keeps_report():
    report = load_sample("ses-default-microsoft.json")
    assert json.loads(render_json(report)) == report


def test_json_keys_sorted_and_stable():
    report = load_sample("ses-default-microsoft.json")
    reordered = dict(reversed(list(report.items())))
    first = render_json(report)
    assert first == render_json(reordered)
    assert first.index('"command"') < first.index('"errors"') < first.index('"messages"') < first.index('"schema_version"')


def test_json_indent_two_spaces():
    output = render_json(load_sample("ses-default-microsoft.json"))
    assert output.splitlines()[1].startswith('  "')
    assert output.endswith("}\n")


def test_json_escapes_lone_surrogate():
    report = load_sample("ses-default-microsoft.json")
    report["messages"][0]["identities"]["from"]["display_name"] = "caf\udce9"
    output = render_json(report)
    assert "\\udce9" in output
    assert output.isascii()


def test_pipeline_report_matches_schema():
    from diag.engine.loader import load_rules
    from diag.pipeline import AnalyzeOptions, analyze_bytes, build_report

    data = (ROOT / "samples" / "headers" / "ses-to-m365-spoof.txt").read_bytes()
    options = AnalyzeOptions(rules=load_rules([]))
    report = build_report("analyze", [analyze_bytes(data, source="ses-to-m365-spoof.txt", options=options)], [])
    output = json.loads(render_json(report))
    assert schema_errors(output) == []
    assert output["messages"][0]["verdicts"]["compauth_reason"] == "000"


MESSAGE_SAMPLES = sorted(
    path
    for folder in ("headers", "eml", "rules")
    for path in (ROOT / "samples" / folder).rglob("*")
    if path.suffix in {".txt", ".eml"}
)


@pytest.mark.parametrize("path", MESSAGE_SAMPLES, ids=lambda path: str(path.relative_to(ROOT / "samples")))
def test_sample_report_matches_schema(path):
    from diag.engine.loader import load_rules
    from diag.errors import InputError
    from diag.pipeline import AnalyzeOptions, analyze_bytes, build_report

    options = AnalyzeOptions(rules=load_rules([]))
    try:
        message = analyze_bytes(path.read_bytes(), source=path.name, options=options)
    except InputError:
        pytest.skip("a sample of unreadable input")
    output = json.loads(render_json(build_report("analyze", [message], [])))
    assert schema_errors(output) == []


# Each contract field with a value of the wrong type: the schema must reject it.
CONTRACT_BREAKS = [
    ("verdicts", "spf", 1),
    ("verdicts", "dmarc", None),
    ("verdicts", "compauth", ["fail"]),
    ("verdicts", "compauth_reason", "1"),
    ("verdicts", "compauth_reason", 1),
    ("verdicts", "dkim", {"domain": "example.com", "result": "pass"}),
    ("microsoft", "cat", 5),
    ("microsoft", "sfv", None),
    ("microsoft", "scl", "5"),
    ("microsoft", "scl", 10),
    ("microsoft", "bcl", "0"),
    ("microsoft", "bcl", -1),
]


@pytest.mark.parametrize(("section", "key", "value"), CONTRACT_BREAKS, ids=lambda value: repr(value))
def test_schema_rejects_wrong_contract_type(section, key, value):
    report = load_sample("ses-default-microsoft.json")
    report["messages"][0][section][key] = value
    assert schema_errors(report) != []


def test_schema_rejects_dkim_entry_without_result():
    report = load_sample("ses-default-microsoft.json")
    del report["messages"][0]["verdicts"]["dkim"][0]["result"]
    assert schema_errors(report) != []


def test_schema_rejects_finding_without_name():
    report = load_sample("ses-default-microsoft.json")
    del report["messages"][0]["findings"][0]["name"]
    assert schema_errors(report) != []


def test_schema_rejects_unknown_severity():
    report = load_sample("ses-default-microsoft.json")
    report["messages"][0]["findings"][0]["severity"] = "critical"
    assert schema_errors(report) != []


def test_schema_allows_added_facts():
    report = load_sample("ses-default-microsoft.json")
    extended = copy.deepcopy(report)
    extended["messages"][0]["dns"] = {"spf": {"records": ["v=spf1 -all"]}}
    extended["messages"][0]["ses"] = {"region": "eu-west-1"}
    extended["messages"][0]["verdicts"]["new_fact"] = True
    assert schema_errors(extended) == []
