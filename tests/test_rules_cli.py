"""`maildiag rules` and `maildiag rules explain NAME`, through click's CliRunner and a subprocess."""

import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from diag.cli import cli

HEADINGS = ("What it checks", "Why it matters", "How to fix", "Known problems", "Examples", "References")


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_rules_lists_every_rule():
    result = run("rules")
    assert result.exit_code == 0
    assert result.output.splitlines()[0].split() == ["CODE", "NAME", "SEVERITY", "CATEGORY", "TITLE"]
    assert "MD101  dkim-only-esp-signature" in result.output
    assert "content-no-list-unsubscribe" in result.output


def test_rules_list_subcommand_same_output():
    assert run("rules", "list").output == run("rules").output


def test_explain_has_every_heading():
    result = run("rules", "explain", "dkim-only-esp-signature")
    assert result.exit_code == 0
    for heading in HEADINGS:
        assert f"\n{heading}\n" in result.output, heading


def test_explain_shows_fix_and_samples():
    # Wrapped lines are joined again, so a phrase may cross a line break.
    output = " ".join(run("rules", "explain", "dkim-only-esp-signature").output.split())
    assert "<token>._domainkey.example.com CNAME <token>.dkim.amazonses.com" in output
    assert "aws sesv2 get-email-identity" in output
    assert "fails: samples/rules/dkim-only-esp-signature/fail.txt" in output
    assert "https://docs.aws.amazon.com/ses/latest/dg/send-email-authentication-dkim-easy.html" in output


def test_explain_by_code_ignores_case():
    assert run("rules", "explain", "md101").output == run("rules", "explain", "dkim-only-esp-signature").output


def test_explain_unknown_rule():
    result = run("rules", "explain", "dkim-everything")
    assert result.exit_code == 2
    assert "no rule named dkim-everything; run 'maildiag rules' to list them" in result.output


def test_rules_dir_adds_rule(tmp_path):
    rule = yaml.safe_load((Path(__file__).resolve().parent.parent / "rules" / "spf-fail.yaml").read_text())
    rule.update(name="local-spf", code="LC001", aliases=["old-local-spf"])
    (tmp_path / "local-spf.yaml").write_text(yaml.safe_dump(rule), encoding="utf-8")
    result = run("rules", "--rules", str(tmp_path), "explain", "old-local-spf")
    assert result.exit_code == 0
    assert result.output.startswith("local-spf (LC001): ")
    assert "Also selected by: old-local-spf." in result.output


def test_rules_dir_bad_file_exits_2(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\nseverity: high\n", encoding="utf-8")
    result = run("rules", "--rules", str(tmp_path))
    assert result.exit_code == 2
    assert f"{tmp_path / 'bad.yaml'}: field 'code': expected a value (the field is required), found nothing" in result.output


def test_console_script_explains():
    completed = subprocess.run(
        [sys.executable, "-m", "diag", "rules", "explain", "compauth-fail"],
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("compauth-fail (MD120): ")
    assert completed.stderr == ""


def test_explain_every_shipped_rule():
    from diag.engine.loader import load_rules

    for rule in load_rules([]):
        result = run("rules", "explain", rule.name)
        assert result.exit_code == 0, f"{rule.name}: {result.output}"
        assert "\nHow to fix\n  1. " in result.output, rule.name
