"""`maildiag audit` end to end: formats, schema, jobs, shards, merge, stdin lists and exit codes."""

import csv
import io
import json
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "audit"
MAILDIAG = [sys.executable, "-m", "diag"]


def audit(*args, stdin=None, cwd=ROOT, timeout=None, preexec_fn=None):
    """Run `maildiag audit --offline ARGS`: the samples contain full messages, which are verified
    against DNS unless --offline is given, and tests must not query the system's resolver."""
    return subprocess.run([*MAILDIAG, "audit", "--offline", *args], input=stdin, capture_output=True, text=True, cwd=cwd,
                          check=False, timeout=timeout, preexec_fn=preexec_fn)


def jsonl_lines(text):
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def whole_jsonl():
    return audit("samples/audit", "-f", "jsonl", "--jobs", "1").stdout


def _schemas():
    folder = ROOT / "reports" / "schema"
    return json.loads((folder / "report.schema.json").read_text()), json.loads((folder / "audit.schema.json").read_text())


def _registry():
    """Return a registry that knows both schemas by their own $id."""
    resources = [Resource.from_contents(schema) for schema in _schemas()]
    return Registry().with_resources((resource.id(), resource) for resource in resources)


def _validator():
    return jsonschema.Draft202012Validator(_schemas()[1], registry=_registry())


def test_schemas_have_ids():
    report, audit_schema = _schemas()

    assert report["$id"].endswith("/report.schema.json")
    assert audit_schema["$id"].endswith("/audit.schema.json")
    assert audit_schema["allOf"] == [{"$ref": report["$id"]}]


def test_schema_reference_resolves():
    report, _ = _schemas()

    resolved = _registry().resolver().lookup(report["$id"])

    assert resolved.contents["title"] == "maildiag report"


def test_json_matches_schema():
    result = audit("samples/audit", "-f", "json")

    report = json.loads(result.stdout)
    errors = sorted(_validator().iter_errors(report), key=str)
    assert errors == []
    assert report["command"] == "audit"
    assert report["summary"]["messages"] == len(report["messages"]) == 11
    assert report["summary"]["input_errors"] == len(report["errors"]) == 4


# Sections the audit changes in a message report: the reduced outcomes and the header fields.
AUDIT_SECTIONS = ("outcomes", "outcomes_omitted", "header_fields")


def test_json_message_equals_analyze():
    sample = "samples/audit/eml/ses-m365-0042.eml"
    analyzed = subprocess.run([*MAILDIAG, "analyze", sample, "--offline", "-f", "json"], capture_output=True, text=True, cwd=ROOT, check=False)

    (message,) = json.loads(audit(sample, "-f", "json").stdout)["messages"]

    (full,) = json.loads(analyzed.stdout)["messages"]
    assert {key: value for key, value in message.items() if key not in AUDIT_SECTIONS} == \
        {key: value for key, value in full.items() if key not in AUDIT_SECTIONS}
    assert message["findings"] == full["findings"]


def test_json_outcomes_reduced():
    sample = "samples/audit/eml/ses-m365-0042.eml"
    analyzed = subprocess.run([*MAILDIAG, "analyze", sample, "--offline", "-f", "json"], capture_output=True, text=True, cwd=ROOT, check=False)
    (full,) = json.loads(analyzed.stdout)["messages"]

    (message,) = json.loads(audit(sample, "-f", "json").stdout)["messages"]

    omitted = message["outcomes_omitted"]
    assert message["outcomes"] == [outcome for outcome in full["outcomes"] if outcome["outcome"] in ("fail", "error")]
    assert omitted["pass"] == [outcome["name"] for outcome in full["outcomes"] if outcome["outcome"] == "pass"]
    assert sum(omitted["not_applicable"].values()) == sum(outcome["outcome"] == "not_applicable" for outcome in full["outcomes"])
    assert omitted["not_applicable"]["needs dns"] > 0


def test_json_header_fields():
    report = json.loads(audit("samples/audit/invoices.mbox", "-f", "json").stdout)

    first = report["messages"][0]
    assert first["header_fields"]["subject"] == "Invoice 2026-11-0044 from Example Ltd"
    assert first["header_fields"]["date"].startswith("2026-11-03T")
    assert first["header_fields"]["message_id"].startswith("<")
    assert first["source"]["mbox"] is True
    assert report["summary"]["period"]["dated"] == 3
    assert report["summary"]["period"]["first"] <= report["summary"]["period"]["last"]


def test_jsonl_outcomes_size():
    sample = "samples/audit/eml/ses-m365-0042.eml"
    analyzed = subprocess.run([*MAILDIAG, "analyze", sample, "--offline", "-f", "json"], capture_output=True, text=True, cwd=ROOT, check=False)
    compact = lambda value: len(json.dumps(value, separators=(",", ":")))  # noqa: E731
    full_outcomes = compact(json.loads(analyzed.stdout)["messages"][0]["outcomes"])

    line = json.loads(audit(sample, "-f", "jsonl").stdout.splitlines()[0])

    reduced = compact(line["message"]["outcomes"]) + compact(line["message"]["outcomes_omitted"])
    assert reduced * 10 < full_outcomes


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
    assert list(first) == ["source", "index", "message_id", "date", "subject", "from_address", "from_domain", "org_domain",
                           "receiver", "spf", "spf_aligned", "dkim", "dmarc", "compauth", "reason", "scl", "bcl", "cat",
                           "findings", "error", "skipped"]
    junked = next(row for row in rows if row["source"].endswith("ses-m365-0042.eml"))
    assert junked["subject"] == "Invoice 2026-11-0042 from Example Ltd"
    assert junked["message_id"] == "<0102019a4c5e1f3a-2026-11-0042-000000@eu-west-1.amazonses.com>"
    assert junked["date"] == "2026-11-03T09:14:04+00:00"
    assert junked["spf"] == "pass"
    assert junked["spf_aligned"] == "not-aligned"
    assert junked["compauth"] == "fail"
    assert junked["reason"] == "000"
    assert junked["scl"] == "5"
    assert junked["cat"] == "SPOOF"
    assert "dmarc-fail" in junked["findings"].split(";")
    broken = next(row for row in rows if row["source"].endswith("not-ole.msg"))
    assert broken["error"].startswith("not an Outlook .msg file")
    assert "not-ole.msg" not in broken["error"]


def test_csv_mbox_rows_identified():
    rows = list(csv.DictReader(io.StringIO(audit("samples/audit/invoices.mbox", "-f", "csv").stdout)))

    keys = [(Path(row["source"]).name, row["index"], row["message_id"]) for row in rows]
    assert [key[1] for key in keys] == ["0", "1", "2"]
    assert all(key[0] == "invoices.mbox" for key in keys)
    assert len({key[2] for key in keys}) == 3


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


def test_stdin_without_paths():
    result = audit("-", "-f", "csv", stdin="\n  \n")

    assert result.returncode == 2
    assert "no paths on standard input" in result.stderr


def test_link_loops_end(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLES / "eml" / "ses-gmail-0043.eml", inbox / "a.eml")
    (inbox / "loop").symlink_to("..")
    (inbox / "self").symlink_to("../inbox")

    result = audit(str(tmp_path), "-f", "json", timeout=60)

    report = json.loads(result.stdout)
    assert report["summary"]["messages"] == 1
    assert report["summary"]["skipped"] == 2
    assert report["errors"] == []
    assert result.returncode == 0
    assert [Path(entry["source"]).name for entry in report["skipped"]] == ["loop", "self"]


def _low_descriptor_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, soft), hard))


def test_mbox_files_beyond_descriptor_limit(tmp_path):
    message = (SAMPLES / "invoices.mbox").read_bytes()
    first = message[: message.index(b"\nFrom ", 1) + 1]
    for number in range(300):
        (tmp_path / f"day-{number:03}.mbox").write_bytes(first)

    result = audit(str(tmp_path), "-f", "csv", "--jobs", "2", preexec_fn=_low_descriptor_limit, timeout=300)

    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert "Traceback" not in result.stderr
    assert len(rows) == 300
    assert [row["error"] for row in rows if row["error"]] == []
    assert result.returncode == 1


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
