"""Audit DNS sharing: each name and type is asked once per run, whatever the number of jobs.

A counting DNS server on loopback answers NXDOMAIN to everything and records each question.
"""

import shutil
import socket
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from diag.audit.dnsshare import SharedResolver, SingleFlightResolver
from diag.dns.resolver import Answer
from diag.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
MESSAGE = ROOT / "samples" / "audit" / "eml" / "ses-gmail-0043.eml"


class CountingServer:
    """A UDP DNS server on 127.0.0.1 that answers NXDOMAIN and counts (name, type) questions."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.questions = Counter()
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.socket.getsockname()[1]}"

    def _serve(self) -> None:
        while self.running:
            try:
                wire, peer = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            question = query.question[0]
            self.questions[(question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype))] += 1
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.NXDOMAIN)
            self.socket.sendto(response.to_wire(), peer)

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.socket.close()


@pytest.fixture
def counting_server():
    server = CountingServer()
    yield server
    server.stop()


@pytest.fixture
def batch(tmp_path):
    for number in range(12):
        shutil.copy(MESSAGE, tmp_path / f"{number:02d}.eml")
    return tmp_path


def _audit(batch, server, jobs):
    return subprocess.run([sys.executable, "-m", "diag", "audit", str(batch), "-f", "csv", "--quiet", "--jobs", str(jobs),
                           "--nameserver", server.address, "--timeout", "1"], cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("jobs", [1, 2])
def test_each_question_asked_once(batch, counting_server, jobs):
    result = _audit(batch, counting_server, jobs)

    assert result.returncode in (0, 1), result.stderr
    assert counting_server.questions, "the messages were not verified against DNS"
    assert max(counting_server.questions.values()) == 1, counting_server.questions
    assert ("_dmarc.example.org.", "TXT") in counting_server.questions


def test_single_flight_under_concurrency():
    calls = Counter()
    started = threading.Event()

    class SlowResolver:
        def query(self, name, rdtype):
            calls[(name, rdtype)] += 1
            started.wait(0.5)
            return Answer(name=name, rdtype=rdtype, status="nxdomain")

    resolver = SingleFlightResolver(SlowResolver())
    threads = [threading.Thread(target=resolver.query, args=("Example.ORG.", "txt")) for _ in range(8)]
    for thread in threads:
        thread.start()
    started.set()
    for thread in threads:
        thread.join()

    assert sum(calls.values()) == 1
    assert resolver.lookup_count() == 1


def test_shared_resolver_zone_file():
    zone = str(ROOT / "samples" / "zones" / "example.org.zone")
    options = {"offline": True, "zones": [zone], "nameservers": [], "record": None, "replay": None, "timeout": 1.0}

    with SharedResolver(options) as shared:
        answer = shared.query("_dmarc.example.org", "TXT")
        again = shared.query("_DMARC.example.org.", "txt")
        lookups = shared.lookup_count()

    assert answer.status == "ok"
    assert any(record.startswith("v=DMARC1") for record in answer.records)
    assert again == answer
    assert lookups == 1


def test_shared_resolver_bad_replay_file(tmp_path):
    recording = tmp_path / "answers.json"
    recording.write_text("not json")
    options = {"offline": True, "zones": [], "nameservers": [], "record": None, "replay": str(recording), "timeout": 1.0}

    with pytest.raises(InputError) as error:
        with SharedResolver(options):
            pass

    assert str(recording) in str(error.value)
