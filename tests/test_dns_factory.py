"""make_resolver: which backend the command-line options select, and closing() for --record."""

import json
import socket
from pathlib import Path

import pytest

from diag.dns import resolver as status
from diag.dns.factory import closing, make_resolver
from diag.dns.live import LiveResolver, Nameserver
from diag.dns.offline import OFFLINE_DETAIL
from diag.dns.replay import FORMAT, VERSION, RecordingResolver, ReplayResolver
from diag.dns.zonefile import ZoneResolver
from diag.errors import UsageError

ZONE = str(Path(__file__).resolve().parents[1] / "samples" / "zones" / "example.com.zone")
DEFAULTS = {"offline": False, "zones": [], "nameservers": [], "record": None, "replay": None, "timeout": 2.0}


def _make(**options):
    return make_resolver(**(DEFAULTS | options))


def _no_sockets(*args, **kwargs):
    raise AssertionError("the offline resolver opened a socket")


def test_offline_refuses_without_socket(monkeypatch):
    monkeypatch.setattr(socket, "socket", _no_sockets)
    answer = _make(offline=True).query("example.com", "TXT")
    assert answer.status == status.REFUSED
    assert answer.temporary
    assert answer.detail == OFFLINE_DETAIL


def test_offline_zones_have_no_fallback():
    resolver = _make(offline=True, zones=[ZONE])
    assert isinstance(resolver, ZoneResolver)
    assert resolver.fallback is None


def test_online_zones_fall_back_to_live():
    resolver = _make(zones=[ZONE], nameservers=["127.0.0.1:5353"])
    assert isinstance(resolver.fallback, LiveResolver)


def test_nameservers_give_live_resolver():
    resolver = _make(nameservers=["127.0.0.1:5353"], timeout=0.5)
    assert isinstance(resolver, LiveResolver)
    assert resolver.nameservers == [Nameserver("127.0.0.1", 5353)]
    assert resolver.timeout == 0.5


def test_replay_selected(tmp_path):
    path = tmp_path / "dns.json"
    path.write_text(json.dumps({"format": FORMAT, "version": VERSION, "answers": []}))
    assert isinstance(_make(replay=str(path)), ReplayResolver)


def test_record_and_replay_rejected(tmp_path):
    with pytest.raises(UsageError, match="--record and --replay"):
        _make(record=str(tmp_path / "a.json"), replay=str(tmp_path / "b.json"))


def test_zone_and_replay_rejected(tmp_path):
    with pytest.raises(UsageError, match="--zone and --replay"):
        _make(zones=[ZONE], replay=str(tmp_path / "b.json"))


def test_zero_timeout_rejected():
    with pytest.raises(UsageError, match="--timeout"):
        _make(nameservers=["127.0.0.1"], timeout=0)


def test_closing_writes_recording(tmp_path):
    path = tmp_path / "dns.json"
    resolver = _make(offline=True, zones=[ZONE], record=str(path))
    assert isinstance(resolver, RecordingResolver)
    with closing(resolver) as active:
        active.query("example.com", "TXT")
    assert json.loads(path.read_text())["answers"][0]["records"] == ["v=spf1 include:amazonses.com -all"]
