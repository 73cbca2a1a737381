"""`maildiag audit` end to end: formats, schema, jobs, shards, merge, stdin lists and exit codes."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "audit"
MAILDIAG = [sys.executable, "-m", "diag"]


def audit(*args, stdin=None, cwd=ROOT):
    """Run `maildiag audit --offline ARGS`: the samples contain full messages, which are verified
    against DNS unless --offline is given, and tests must not query the system's resolver."""
    return subprocess.run([*MAILDIAG, "audit", "--offline", *args], input=stdin, capture_output=True, text=True, cwd=cwd, check=False)


def jsonl_lines(text):
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def whole_jsonl():
    return audit("samples/audit", "-f", "jsonl", "--jobs", "1").stdout


def _validator():
    schemas = ROOT / "reports" / "schema"
    report = json.loads((schemas / "report.schema.json").read_text())
    audit_schema = json.loads((schemas / "audit.schema.json").read_text())
    registry = Registry().with_resource("report.schema.json", Resource.from_contents(report))
    return jsonschema.Draft202012Validator(audit_schema, registry=registry)


def test_json_matches_schema():
    result = audit("samples/audit", "-f", "json")

    report = json.loads(result.stdout)
    errors = sorted(_validator().iter_errors(report), key=str)
    assert errors == []
    assert report["command"] == "audit"
    assert report["summary"]["messages"] == len(report["messages"]) == 11
    assert report["summary"]["input_errors"] == len(report["errors"]) == 4


def test_json_message_equals_analyze():
    sample = "samples/audit/eml/ses-m365-0042.eml"
    analyzed = subprocess.run([*MAILDIAG, "analyze", sample, "--offline", "-f", "json"], capture_output=True, text=True, cwd=ROOT, check=False)

    report = json.loads(audit(sample, "-f", "json").stdout)

    assert report["messages"] == json.loads(analyzed.stdout)["messages"]


def test_json_lists_every_bad_input():
    report = json.loads(audit("samples/audit", "-f", "json").stdout)

    reasons = {(Path(error["source"]).name, error["index"]): error["message"] for error in report["errors"]}
    assert "binary" in reasons[("binary.eml", 0)]
    assert "empty" in reasons[("empty.eml", 0)]
    assert "not an Outlook .msg file" in reasons[("not-ole.msg", 0)]
    assert "truncated" in reasons[("truncated.mbox", 1)]


def test_jsonl_lines_and_summary(whole_jsonl):
    lines = jsonl_lines(whole_jsonl)

    kinds = [line["type"] for line in lines]
    assert kinds.count("message") == 11
    assert kinds.count("error") == 4
    assert kinds[-1] == "summary"
    assert lines[-1]["summary"]["messages"] == 11
    errors = sorted(_validator().iter_errors({**{key: lines[-1][key] for key in ("command", "schema_version", "tool", "summary")},
                                              "messages": [line["message"] for line in lines if line["type"] == "message"],
                                              "errors": [line["error"] for line in lines if line["type"] == "error"]}), key=str)
    assert errors == []


def test_jobs_one_and_two_agree(whole_jsonl):
    parallel = audit("samples/audit", "-f", "jsonl", "--jobs", "2").stdout

    assert parallel == whole_jsonl


def test_csv_rows():
    result = audit("samples/audit", "-f", "csv")

    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 15
    first = rows[0]
    assert list(first) == ["source", "index", "from_domain", "org_domain", "receiver", "spf", "dkim", "dmarc",
                           "compauth", "reason", "scl", "bcl", "cat", "findings", "error"]
    junked = next(row for row in rows if row["source"].endswith("ses-m365-0042.eml"))
    assert junked["compauth"] == "fail"
    assert junked["reason"] == "000"
    assert junked["scl"] == "5"
    assert junked["cat"] == "SPOOF"
    assert "dmarc-fail" in junked["findings"].split(";")
    broken = next(row for row in rows if row["source"].endswith("not-ole.msg"))
    assert "not an Outlook .msg file" in broken["error"]


def test_csv_defuses_formulas(tmp_path):
    message = (SAMPLES / "eml" / "ses-gmail-0043.eml").read_bytes()
    (tmp_path / "=HYPERLINK(1).eml").write_bytes(message)

    rows = list(csv.DictReader(io.StringIO(audit(str(tmp_path), "-f", "csv").stdout)))

    assert rows[0]["source"].startswith(str(tmp_path))
    (row,) = list(csv.DictReader(io.StringIO(audit("=HYPERLINK(1).eml", "-f", "csv", cwd=tmp_path).stdout)))
    assert row["source"] == "'=HYPERLINK(1).eml"


def test_shard_union_equals_whole(tmp_path):
    # The whole run is made here, next to the shard runs, not taken from the module fixture.
    whole_jsonl = audit("samples/audit", "-f", "jsonl").stdout
    shard_files = []
    for number in (1, 2, 3):
        output = tmp_path / f"shard-{number}.jsonl"
        audit("samples/audit", "-f", "jsonl", "--shard", f"{number}/3", "-o", str(output))
        shard_files.append(output)

    merged = audit("--merge", *map(str, shard_files), "-f", "jsonl")

    whole = jsonl_lines(whole_jsonl)
    combined = jsonl_lines(merged.stdout)
    key = lambda line: json.dumps(line, sort_keys=True)  # noqa: E731
    assert sorted(map(key, combined[:-1])) == sorted(map(key, whole[:-1]))
    assert combined[-1]["summary"] == whole[-1]["summary"]
    assert merged.returncode == 1


def test_merge_to_csv(tmp_path, whole_jsonl):
    shard = tmp_path / "all.jsonl"
    shard.write_text(whole_jsonl)

    rows = list(csv.DictReader(io.StringIO(audit("--merge", str(shard), "-f", "csv").stdout)))

    assert len(rows) == 15


def test_merge_reports_cut_shard(tmp_path, whole_jsonl):
    shard = tmp_path / "cut.jsonl"
    shard.write_text("".join(whole_jsonl.splitlines(keepends=True)[:3]) + "{not json\n")

    report = json.loads(audit("--merge", str(shard), "-f", "json").stdout)

    messages = [error["message"] for error in report["errors"]]
    assert any("line 4 is not an audit JSON Lines record" in message for message in messages)
    assert any("no summary line" in message for message in messages)


def test_merge_reports_duplicate(tmp_path, whole_jsonl):
    shard = tmp_path / "all.jsonl"
    shard.write_text(whole_jsonl)

    report = json.loads(audit("--merge", str(shard), str(shard), "-f", "json").stdout)

    assert report["summary"]["messages"] == 11
    assert sum("repeats message" in error["message"] for error in report["errors"]) == 11


def test_stdin_path_list():
    paths = "samples/audit/eml/ses-gmail-0043.eml\n\nsamples/audit/invoices.mbox\n"

    report = json.loads(audit("-", "-f", "json", stdin=paths).stdout)

    sources = [(Path(message["source"]["path"]).name, message["source"]["index"]) for message in report["messages"]]
    assert sources == [("ses-gmail-0043.eml", 0), ("invoices.mbox", 0), ("invoices.mbox", 1), ("invoices.mbox", 2)]


def test_exit_findings():
    assert audit("samples/audit", "-f", "csv").returncode == 1


def test_exit_input_errors_only():
    result = audit("samples/audit/bad", "samples/audit/eml/ses-gmail-0043.eml", "-f", "csv")

    assert result.returncode == 2
    assert "maildiag: input error: samples/audit/bad/empty.eml" in result.stderr


def test_exit_clean():
    assert audit("samples/audit/eml/ses-gmail-0043.eml", "-f", "csv").returncode == 0


def test_quiet_silences_stderr():
    result = audit("samples/audit/bad", "-f", "csv", "--quiet")

    assert result.stderr == ""
    assert result.returncode == 2


def test_no_path_is_usage_error():
    result = audit("-f", "csv")

    assert result.returncode == 2
    assert "no PATH given" in result.stderr


def test_bad_shard_is_usage_error():
    result = audit("samples/audit", "--shard", "4/3")

    assert result.returncode == 2
    assert "--shard '4/3'" in result.stderr


def test_terminal_summary():
    result = audit("samples/audit")

    assert "maildiag audit: 11 messages" in result.stdout
    assert "Per sending organisational domain" in result.stdout
    assert "Gmail (mx.google.com)" in result.stdout
    assert "Hop delays over" in result.stdout


def test_output_file_not_writable(tmp_path):
    result = audit("samples/audit", "-f", "csv", "-o", str(tmp_path / "missing" / "out.csv"))

    assert result.returncode == 2
    assert "cannot write the report" in result.stderr
