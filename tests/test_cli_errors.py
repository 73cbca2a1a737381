"""Bad input ends with one clear line on stderr and exit 2, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "headers" / "ses-to-m365-spoof.txt"


def run_cli(*args, stdin=b""):
    return subprocess.run(
        [sys.executable, "-m", "diag", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )


def assert_clean_error(done, *words):
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in stderr.lower()


def test_empty_paste():
    assert_clean_error(run_cli("analyze", "--offline", stdin=b""), "empty")


def test_whitespace_only_paste():
    assert_clean_error(run_cli("analyze", "--offline", stdin=b"\n\n   \n"), "empty")


def test_binary_file(tmp_path):
    path = tmp_path / "image.eml"
    path.write_bytes(bytes(range(256)) * 8)
    assert_clean_error(run_cli("analyze", "--offline", str(path)), "binary")


def test_text_that_is_not_email(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Shopping list\n\neggs, milk and bread for the weekend\n")
    assert_clean_error(run_cli("analyze", "--offline", str(path)), "header")


def test_missing_file():
    assert_clean_error(run_cli("analyze", "--offline", "no-such-file.eml"), "not found")


def test_directory_without_messages(tmp_path):
    (tmp_path / "readme.pdf").write_bytes(b"%PDF-1.4")
    assert_clean_error(run_cli("analyze", "--offline", str(tmp_path)), "no message files")


def test_unknown_format():
    done = run_cli("analyze", "--offline", "--format", "yaml", str(SAMPLE))
    assert done.returncode == 2
    assert b"yaml" in done.stderr


def test_bad_file_in_batch_does_not_stop_others(tmp_path):
    good = tmp_path / "good.txt"
    good.write_bytes(SAMPLE.read_bytes())
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    done = run_cli("analyze", "--offline", "--format", "json", str(empty), str(good))
    assert b"Traceback" not in done.stderr
    assert b"empty.txt" in done.stderr
    assert b'"path": "' + str(good).encode() in done.stdout
    # The good file has error findings, which outrank the input error.
    assert done.returncode == 1


@pytest.mark.parametrize("fail_on, expected", [("error", 1), ("warning", 1), ("info", 1)])
def test_fail_on_thresholds(fail_on, expected):
    done = run_cli("analyze", "--offline", "--fail-on", fail_on, str(SAMPLE))
    assert done.returncode == expected, done.stderr.decode()


def test_demo_sample_verdicts():
    import json

    done = run_cli("analyze", "--offline", "--format", "json", str(SAMPLE))
    report = json.loads(done.stdout)
    message = report["messages"][0]
    assert message["verdicts"]["dmarc"] == "fail"
    assert message["verdicts"]["compauth"] == "fail"
    assert message["verdicts"]["compauth_reason"] == "000"
    assert message["microsoft"]["cat"] == "SPOOF"
    assert message["microsoft"]["scl"] == 5
    names = {finding["name"] for finding in message["findings"]}
    assert "dkim-only-esp-signature" in names
    assert "compauth-fail" in names
    assert "spf-not-aligned" in names


def test_superscript_digits_in_tags():
    # "²".isdigit() is true but int("²") raises: numeric DKIM and ARC tags must be ASCII digits.
    paste = "From: a@example.org\nDKIM-Signature: v=1; d=example.org; s=s1; t=\u00b2; h=from; bh=eA==; b=eQ==\nARC-Seal: i=\u00b2; d=example.org; s=s; cv=none; b=eQ==\n"
    done = run_cli("analyze", "--offline", "-", stdin=paste.encode())
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
