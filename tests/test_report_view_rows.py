"""Verdict rows and evidence text that the terminal, HTML and Markdown reports share."""

from pathlib import Path

import pytest

from diag.engine.loader import load_rules
from diag.pipeline import AnalyzeOptions, analyze_bytes, build_report
from diag.report.view import SHOWN_ABOVE, build_view, finding_view, verdict_rows

ROOT = Path(__file__).resolve().parent.parent
HEADERS = ROOT / "samples" / "headers"


def analyze_sample(name: str) -> dict:
    path = HEADERS / name
    options = AnalyzeOptions(rules=load_rules([]))
    message = analyze_bytes(path.read_bytes(), source=name, options=options)
    return build_report("analyze", [message], [])


@pytest.fixture(scope="module")
def trusted_report() -> dict:
    return analyze_sample("paste-numbered-rows.txt")


def dkim_rows(entry: dict) -> list[tuple[str, str]]:
    return [(row.result, row.detail) for row in verdict_rows(entry) if row.check == "DKIM"]


def test_dkim_row_without_clause():
    entry = {"verdicts": {"spf": "pass", "dmarc": "fail"}}
    assert dkim_rows(entry) == [("none", "message not signed")]


def test_dkim_row_empty_clauses():
    entry = {"verdicts": {"spf": "pass", "dkim": []}}
    assert dkim_rows(entry) == [("none", "message not signed")]


def test_dkim_row_all_none_once():
    entry = {"verdicts": {"dkim_signed": False, "dkim": [{"result": "none"}, {"result": "none"}]}}
    assert dkim_rows(entry) == [("none", "message not signed")]


def test_dkim_rows_per_signature():
    entry = {"verdicts": {"dkim_signed": True, "dkim": [{"result": "pass", "domain": "example.com", "aligned": True}]}}
    assert dkim_rows(entry) == [("pass", "d=example.com, aligned with From")]


def test_no_verdicts_no_dkim_row():
    assert dkim_rows({}) == []


def test_dkim_none_sample_row():
    subject = build_view(analyze_sample("dkim-none-no-domain.txt")).subjects[0]
    rows = [(row.result, row.detail) for row in subject.verdicts if row.check == "DKIM"]
    assert rows == [("none", "message not signed")]


def test_trusted_raw_points_above(trusted_report):
    subject = build_view(trusted_report).subjects[0]
    assert subject.trusted is not None
    values = [value for finding in subject.findings for path, value in finding.evidence if path == "auth.trusted.raw"]
    assert values
    assert all(value == SHOWN_ABOVE for value in values)


def test_trusted_raw_kept_without_block():
    finding = {"name": "spf-fail", "evidence": [{"path": "auth.trusted.raw", "value": ["mx.example.net; spf=fail"]}]}
    assert finding_view(finding).evidence == [("auth.trusted.raw", "mx.example.net; spf=fail")]
