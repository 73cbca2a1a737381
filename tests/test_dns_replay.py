"""RecordingResolver and ReplayResolver: record live Knot answers, then answer from the file alone."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from diag.dns import resolver as status
from diag.dns.live import LiveResolver
from diag.dns.replay import FORMAT, VERSION, RecordingResolver, ReplayResolver
from diag.errors import InputError

REPOSITORY = Path(__file__).resolve().parents[1]
QUESTIONS = [
    ("example.com", "TXT"),
    ("split.example.com", "TXT"),
    ("long.example.com", "TXT"),
    ("nope.example.com", "TXT"),
    ("_domainkey.example.com", "TXT"),
    ("www.example.com", "A"),
    ("loop-a.example.com", "A"),
    ("www.broken.example.net", "A"),
    ("www.example.invalid", "A"),
]


def _record(knot, path) -> list:
    with RecordingResolver(LiveResolver([knot.address], timeout=1.0), str(path)) as recorder:
        return [recorder.query(name, rdtype) for name, rdtype in QUESTIONS]


@pytest.mark.dns
def test_round_trip_equal_answers(knot, tmp_path):
    path = tmp_path / "dns.json"
    recorded = _record(knot, path)
    replay = ReplayResolver(str(path))

    for answer in recorded:
        replayed = replay.query(answer.name, answer.rdtype)
        assert dataclasses.replace(replayed, server=answer.server) == answer
        assert replayed.server == f"replay:{path}"
        assert replayed.extra["recorded_server"] == knot.address
        assert {key: value for key, value in replayed.extra.items() if key != "recorded_server"} == answer.extra


@pytest.mark.dns
def test_recording_bytes_stable(knot, tmp_path):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    _record(knot, first)
    _record(knot, second)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.dns
def test_recording_format_versioned(knot, tmp_path):
    path = tmp_path / "dns.json"
    _record(knot, path)
    document = json.loads(path.read_text())
    assert document["format"] == FORMAT
    assert document["version"] == VERSION
    assert len(document["answers"]) == len(QUESTIONS)


def test_unrecorded_question_refused(tmp_path):
    path = tmp_path / "dns.json"
    path.write_text(json.dumps({"format": FORMAT, "version": VERSION, "answers": []}))
    answer = ReplayResolver(str(path)).query("example.com", "TXT")
    assert answer.status == status.REFUSED
    assert answer.temporary
    assert answer.detail == f"not in the recording {path}"


def test_replay_ignores_case_and_final_dot(tmp_path):
    path = tmp_path / "dns.json"
    entry = {"question": ["example.com", "TXT"], "name": "example.com", "rdtype": "TXT", "status": "ok", "records": ["v=spf1 -all"], "cname_chain": [], "ttl": 60, "server": "127.0.0.1:53", "detail": None, "extra": {}}
    path.write_text(json.dumps({"format": FORMAT, "version": VERSION, "answers": [entry]}))
    assert ReplayResolver(str(path)).query("Example.COM.", "txt").records == ("v=spf1 -all",)


def test_written_at_exit(tmp_path):
    # A run that never calls close() still leaves its recording, through atexit.
    path = tmp_path / "dns.json"
    zone = REPOSITORY / "samples" / "zones" / "example.com.zone"
    program = (
        "from diag.dns.replay import RecordingResolver\n"
        "from diag.dns.zonefile import ZoneResolver\n"
        f"RecordingResolver(ZoneResolver([{str(zone)!r}]), {str(path)!r}).query('example.com', 'TXT')\n"
    )
    subprocess.run([sys.executable, "-c", program], cwd=REPOSITORY, check=True, timeout=30)
    answer = ReplayResolver(str(path)).query("example.com", "TXT")
    assert answer.records == ("v=spf1 include:amazonses.com -all",)


def test_wrong_version_rejected(tmp_path):
    path = tmp_path / "dns.json"
    path.write_text(json.dumps({"format": FORMAT, "version": 99, "answers": []}))
    with pytest.raises(InputError, match="version 99 is not supported"):
        ReplayResolver(str(path))


def test_other_json_rejected(tmp_path):
    path = tmp_path / "dns.json"
    path.write_text('{"answers": []}')
    with pytest.raises(InputError, match="is not a DNS recording"):
        ReplayResolver(str(path))


def test_invalid_json_rejected(tmp_path):
    path = tmp_path / "dns.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match="invalid JSON"):
        ReplayResolver(str(path))


def test_incomplete_entry_rejected(tmp_path):
    path = tmp_path / "dns.json"
    path.write_text(json.dumps({"format": FORMAT, "version": VERSION, "answers": [{"question": ["example.com", "TXT"]}]}))
    with pytest.raises(InputError, match="answer 0 .* missing a field"):
        ReplayResolver(str(path))


def test_missing_recording(tmp_path):
    with pytest.raises(InputError, match="cannot read the DNS recording"):
        ReplayResolver(str(tmp_path / "absent.json"))


def test_unwritable_recording(tmp_path):
    zone = str(REPOSITORY / "samples" / "zones" / "example.com.zone")
    from diag.dns.zonefile import ZoneResolver

    recorder = RecordingResolver(ZoneResolver([zone]), str(tmp_path / "missing-folder" / "dns.json"))
    with pytest.raises(InputError, match="cannot write the DNS recording"):
        recorder.close()
