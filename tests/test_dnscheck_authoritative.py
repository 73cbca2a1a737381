"""`maildiag dns --authoritative` against two Knot servers posing as ns1 and ns2.example.com."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.knot import KNOTD, KnotServer, _require, free_port

ROOT = Path(__file__).resolve().parent.parent
UPDATED_ZONE = ROOT / "samples" / "authoritative" / "example.com.ns1-updated.zone"
RULE = "dns-authoritative-disagree"

pytestmark = pytest.mark.dns


def maildiag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diag", "dns", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def check(ns1, *extra: str) -> subprocess.CompletedProcess:
    return maildiag("example.com", "--authoritative", "--nameserver", ns1.address, "--timeout", "0.3", "-f", "json", *extra)


def load_updated_zone(server) -> None:
    """Give `server` the primary's newer example.com (serial 2026120402, p=reject)."""
    shutil.copy(UPDATED_ZONE, server.zonedir / "example.com.zone")
    server.reload()
    assert server.serial("example.com") == 2026120402


def outcome(done: subprocess.CompletedProcess, name: str = RULE) -> dict:
    message = json.loads(done.stdout)["messages"][0]
    return next(item for item in message["outcomes"] if item["name"] == name)


def finding(done: subprocess.CompletedProcess, name: str = RULE) -> dict:
    message = json.loads(done.stdout)["messages"][0]
    return next(item for item in message["findings"] if item["name"] == name)


def test_authoritative_disagree_exit_1(knot_pair):
    ns1, ns2 = knot_pair
    load_updated_zone(ns1)

    done = check(ns1)

    assert done.returncode == 1, done.stderr
    assert outcome(done)["outcome"] == "fail"


def test_authoritative_disagree_names_serials(knot_pair):
    ns1, ns2 = knot_pair
    load_updated_zone(ns1)

    result = finding(check(ns1))

    assert "ns1.example.com (127.0.0.2:" in result["message"]
    assert "has 2026120402" in result["message"]
    assert "has 2026120401" in result["message"]
    assert "_dmarc.example.com TXT" in result["message"]
    assert result["fix"][0].startswith(f"Wait for the zone transfer: ns2.example.com ({ns2.address}) has not loaded serial 2026120402")
    assert "NOTIFY" in result["fix"][1]


def test_authoritative_disagree_evidence(knot_pair):
    ns1, ns2 = knot_pair
    load_updated_zone(ns1)

    result = finding(check(ns1))

    evidence = {item["path"]: item["value"] for item in result["evidence"]}
    dmarc = next(item for item in evidence["dns.authoritative.disagreements"] if item["name"] == "_dmarc.example.com")
    answers = {answer["nameserver"]: answer["answer"] for answer in dmarc["answers"]}
    assert answers["ns1.example.com"] == ["v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com"]
    assert answers["ns2.example.com"] == ["v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com"]


def test_authoritative_facts_from_first_server(knot_pair):
    ns1, ns2 = knot_pair
    load_updated_zone(ns1)

    facts = json.loads(check(ns1).stdout)["messages"][0]["dns"]

    assert facts["dmarc"]["p"] == "reject"
    assert facts["authoritative"]["lagging"] == [f"ns2.example.com ({ns2.address})"]


def test_authoritative_agree_passes(knot_pair):
    ns1, _ = knot_pair

    done = check(ns1)

    assert done.returncode == 0, done.stdout + done.stderr
    assert outcome(done)["outcome"] == "pass"
    facts = json.loads(done.stdout)["messages"][0]["dns"]["authoritative"]
    assert facts["disagreements"] == []
    assert facts["serials_differ"] is False


@pytest.fixture
def example_com_only(tmp_path):
    """Knot on 127.0.0.1 with every sample zone, and ns1 and ns2 on the same port with example.com only.

    Like real customer nameservers, ns1 and ns2 answer REFUSED for dkim.amazonses.com, so
    the Easy DKIM keys must come through the run's resolver (127.0.0.1).
    """
    _require(KNOTD, "knot")
    port = free_port("127.0.0.1")
    zones = tmp_path / "example.com-only"
    zones.mkdir()
    shutil.copy(ROOT / "samples" / "zones" / "example.com.zone", zones)
    servers = [KnotServer(tmp_path / "recursive", port=port)]
    servers += [KnotServer(tmp_path / f"ns{index}", port=port, listen=(address,), zones_dir=zones) for index, address in enumerate(("127.0.0.2", "127.0.0.3"), start=1)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.close()


def test_authoritative_follows_cname_out_of_zone(example_com_only, tmp_path):
    resolver, _, _ = example_com_only
    expect = tmp_path / "expect.toml"
    expect.write_text('domain = "example.com"\nregion = "us-east-1"\ndkim_tokens = ["4ra7bzv3ngtl3qkp6ysxgbjzwdg2jdvr", "mh2w5xcfoq6jvkzdlbpnu3y7te4sagri", "q7lxk3fvw2ejrbnz6cdmto5hpysgiua4"]\n')

    done = check(resolver, "--expect", str(expect))

    facts = json.loads(done.stdout)["messages"][0]["dns"]
    assert facts["ses_dkim"]["resolving_count"] == 3
    assert [key["bits"] for key in facts["dkim_keys"]] == [2048, 2048, 2048]
    assert facts["authoritative"]["status"] == "ok"
    assert done.returncode == 0, done.stdout


def test_authoritative_secondary_down_exit_3(knot_pair):
    ns1, ns2 = knot_pair
    ns2.stop()

    done = check(ns1)

    assert done.returncode == 3, done.stdout + done.stderr
    assert outcome(done)["outcome"] == "error"
    temperrors = json.loads(done.stdout)["messages"][0]["dns"]["authoritative"]["temperrors"]
    assert [item["nameserver"] for item in temperrors] == ["ns2.example.com"]


def test_authoritative_with_zone_exit_2():
    done = maildiag("example.com", "--authoritative", "--zone", str(ROOT / "samples" / "zones" / "example.com.zone"))

    assert done.returncode == 2
    assert "--authoritative" in done.stderr


SECOND_SPF = ("example.com.", 300, "TXT", '"v=spf1 ip4:192.0.2.0/24 -all"')


def test_authoritative_rules_per_server(knot_pair):
    ns1, ns2 = knot_pair
    ns2.update("example.com", add=[SECOND_SPF])

    done = check(ns1)

    assert done.returncode == 1, done.stderr
    message = finding(done, "spf-record-multiple")["message"]
    assert "Found in the answers of ns2.example.com (127.0.0.3)" in message
    assert "the answers of ns1.example.com (127.0.0.2) pass this check" in message


def test_authoritative_disagree_names_rule(knot_pair):
    ns1, ns2 = knot_pair
    ns2.update("example.com", add=[SECOND_SPF])

    done = check(ns1)

    assert "spf-record-multiple fails on the answers of ns2.example.com (127.0.0.3) and passes on those of ns1.example.com (127.0.0.2)" in finding(done)["message"]
    differences = json.loads(done.stdout)["messages"][0]["dns"]["authoritative"]["rule_differences"]
    assert [item["rule"] for item in differences] == ["spf-record-multiple"]


def test_authoritative_fix_dig_server(knot_pair):
    ns1, ns2 = knot_pair
    ns2.update("example.com", add=[SECOND_SPF])

    fix = finding(check(ns1))["fix"][0]

    assert f"Check with: dig @127.0.0.2 -p {ns1.port} example.com SOA +norecurse" in fix
    assert "NAMESERVER" not in fix


def test_authoritative_down_no_answer(knot_pair):
    ns1, ns2 = knot_pair
    ns2.stop()

    done = maildiag("example.com", "--authoritative", "--nameserver", ns1.address, "--timeout", "0.3")

    text = " ".join(done.stdout.split())
    assert f"no answer from ns2.example.com (127.0.0.3:{ns2.port}) (timeout)" in text
    assert "serial None" not in text
