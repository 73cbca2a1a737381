"""Reporter dispatch: every format is reachable through diag.report.render."""

import io
import json
from pathlib import Path

import pytest

from diag.errors import UsageError
from diag.report import FORMATS, render

ROOT = Path(__file__).resolve().parent.parent


def load_sample(name: str) -> dict:
    return json.loads((ROOT / "samples" / "reports" / name).read_text(encoding="utf-8"))


def test_formats_match_cli_choices():
    from diag.cli import FORMATS as CLI_FORMATS

    assert set(FORMATS) == set(CLI_FORMATS)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_render_names_subject(fmt):
    stream = io.StringIO()
    render(load_sample("ses-default-microsoft.json"), fmt, stream)
    assert "dkim-only-esp-signature" in stream.getvalue()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_render_minimal_report(fmt):
    report = {
        "schema_version": "1.0",
        "tool": {"name": "maildiag", "version": "0.1.0"},
        "command": "audit",
        "errors": [],
        "summary": {"input_errors": 0, "findings": {"error": 0, "warning": 0, "info": 0}},
    }
    stream = io.StringIO()
    render(report, fmt, stream)
    assert stream.getvalue().strip() != ""


def test_render_unknown_format():
    with pytest.raises(UsageError, match="unknown report format 'yaml'; use one of: terminal, json"):
        render(load_sample("ses-default-microsoft.json"), "yaml", io.StringIO())
