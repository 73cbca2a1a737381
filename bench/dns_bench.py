"""DNS benchmarks: `maildiag dns` against the checkdmarc CLI, and `--jobs` throughput.

Usage: python bench/dns_bench.py [--domains 1000] [--runs 5] [--json]

Everything runs in a new network namespace (`unshare --net`, so root is required) whose
only interface is loopback: no query from either tool can leave the machine. Inside it:

- Knot serves samples/zones plus N generated zones (c0001.example ... , RFC 2606 names).
- Unbound recurses through stub zones to Knot, as a production resolver would.
- A counting proxy on 127.0.0.1:53 forwards every DNS message to Unbound and records its
  question. It sits on port 53 because checkdmarc 6.0.4 takes nameservers as bare IP
  addresses, without a port, so both tools are counted at the same place.

Comparison: both CLIs check the same five sample domains in one process each, with a warm
Unbound cache. The table gives the median wall time and the DNS messages each tool sent.
Throughput: `maildiag dns @FILE --jobs N` over the generated domains, sent straight to Knot
so that the resolver's cache does not hide maildiag's own work.
"""

import argparse
import json
import os
import platform
import shutil
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.knot import ZONES_DIR, KnotServer, UnboundServer  # noqa: E402

BIN = Path(sys.executable).parent
MAILDIAG = BIN / "maildiag"
CHECKDMARC = BIN / "checkdmarc"
COMPARED_DOMAINS = ["example.com", "example.org", "example.net", "customer-broken.example.org", "customer-fixed.example.org"]
PROXY_ADDRESS = ("127.0.0.1", 53)
INSIDE_FLAG = "--inside-netns"
DKIM_TOKENS = ("4ra7bzv3ngtl3qkp6ysxgbjzwdg2jdvr", "mh2w5xcfoq6jvkzdlbpnu3y7te4sagri", "q7lxk3fvw2ejrbnz6cdmto5hpysgiua4")


def generated_zone(domain: str, number: int) -> str:
    """Return a small SES sender zone; every 10th has two SPF records, every 7th no DMARC."""
    lines = [
        f"$ORIGIN {domain}.",
        "$TTL 300",
        f"@ SOA ns1.{domain}. hostmaster.{domain}. 2026120401 3600 600 604800 300",
        f"@ NS ns1.{domain}.",
        "ns1 A 127.0.0.1",
        "@ MX 10 mx.example.net.",
        '@ TXT "v=spf1 ip4:192.0.2.0/24 include:amazonses.com ~all"',
        "bounce MX 10 feedback-smtp.us-east-1.amazonses.com.",
        'bounce TXT "v=spf1 include:amazonses.com ~all"',
    ]
    lines += [f"{token}._domainkey CNAME {token}.dkim.amazonses.com." for token in DKIM_TOKENS]
    if number % 10 == 0:
        lines.append('@ TXT "v=spf1 mx -all"')
    if number % 7 != 0:
        lines.append(f'_dmarc TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}"')
    return "\n".join(lines) + "\n"


def write_zones(folder: Path, count: int) -> list[str]:
    """Copy the sample zones into `folder`, add `count` generated ones and return their names."""
    folder.mkdir(parents=True)
    for path in ZONES_DIR.glob("*.zone"):
        shutil.copy(path, folder)
    domains = [f"c{number:04d}.example" for number in range(1, count + 1)]
    for number, domain in enumerate(domains, start=1):
        (folder / f"{domain}.zone").write_text(generated_zone(domain, number))
    return domains


class CountingProxy:
    """A UDP and TCP DNS forwarder that records the question of every message it forwards."""

    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.questions: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        proxy = self

        class UDPHandler(socketserver.BaseRequestHandler):
            def handle(self):
                data, listen_socket = self.request
                client = self.client_address
                proxy.record(data, "udp")
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream_socket:
                    upstream_socket.settimeout(5)
                    upstream_socket.sendto(data, proxy.upstream)
                    reply, _ = upstream_socket.recvfrom(65535)
                listen_socket.sendto(reply, client)

        class TCPHandler(socketserver.BaseRequestHandler):
            def handle(self):
                with socket.create_connection(proxy.upstream, timeout=5) as upstream_socket:
                    while True:
                        try:
                            query, _ = dns.query.receive_tcp(self.request, expiration=time.time() + 5)
                        except (EOFError, OSError, dns.exception.DNSException):
                            return
                        wire = query.to_wire()
                        proxy.record(wire, "tcp")
                        dns.query.send_tcp(upstream_socket, wire)
                        reply, _ = dns.query.receive_tcp(upstream_socket, expiration=time.time() + 5)
                        dns.query.send_tcp(self.request, reply.to_wire())

        socketserver.ThreadingUDPServer.allow_reuse_address = True
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.servers = [socketserver.ThreadingUDPServer(listen, UDPHandler), socketserver.ThreadingTCPServer(listen, TCPHandler)]
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def record(self, wire: bytes, transport: str) -> None:
        message = dns.message.from_wire(wire)
        question = message.question[0]
        with self._lock:
            self.questions.append((question.name.to_text(omit_final_dot=True).lower(), dns.rdatatype.to_text(question.rdtype), transport))

    def take(self) -> list[tuple[str, str, str]]:
        """Return the questions recorded since the last call and start a new count."""
        with self._lock:
            questions, self.questions = self.questions, []
        return questions

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def run_tool(args: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600)
    return time.perf_counter() - start, done


def compare_tools(proxy: CountingProxy, runs: int) -> dict:
    """Time both CLIs on COMPARED_DOMAINS through the proxy and count what each sent."""
    commands = {
        "maildiag": [str(MAILDIAG), "dns", *COMPARED_DOMAINS, "--nameserver", "127.0.0.1:53", "-f", "json"],
        "checkdmarc": [str(CHECKDMARC), *COMPARED_DOMAINS, "--nameserver", "127.0.0.1", "-f", "json"],
    }
    results = {}
    for tool, command in commands.items():
        # One run to fill Unbound's cache, so neither tool pays for the first lookups.
        run_tool(command)
        proxy.take()
        times, counts, types = [], [], Counter()
        for _ in range(runs):
            elapsed, done = run_tool(command)
            questions = proxy.take()
            if not done.stdout.strip():
                raise RuntimeError(f"{tool} wrote no report (exit {done.returncode}): {done.stderr[-2000:]}")
            times.append(elapsed)
            counts.append(len(questions))
            types = Counter(rdtype for _, rdtype, _ in questions)
        results[tool] = {
            "command": " ".join(command),
            "exit_code": done.returncode,
            "median_seconds": statistics.median(times),
            "messages_sent": statistics.median(counts),
            "messages_by_type": dict(types.most_common()),
        }
    return results


def measure_throughput(domains: list[str], knot: KnotServer, workdir: Path, jobs_values: list[int]) -> dict:
    listing = workdir / "domains.txt"
    listing.write_text("\n".join(domains) + "\n")
    results = {}
    for jobs in jobs_values:
        command = [str(MAILDIAG), "dns", f"@{listing}", "--jobs", str(jobs), "--nameserver", knot.address, "-f", "json", "-o", str(workdir / f"jobs{jobs}.json")]
        elapsed, done = run_tool(command)
        report = json.loads((workdir / f"jobs{jobs}.json").read_text())
        checked = len(report["messages"])
        temperrors = sum(1 for message in report["messages"] if message["dns"]["temperror"])
        if checked != len(domains) or temperrors:
            raise RuntimeError(f"--jobs {jobs}: {checked} of {len(domains)} domains reported, {temperrors} with temperror (exit {done.returncode}): {done.stderr[-2000:]}")
        results[jobs] = {
            "command": " ".join(command),
            "seconds": elapsed,
            "domains_per_second": len(domains) / elapsed,
            "questions_per_domain": statistics.mean(message["dns"]["query_count"] for message in report["messages"]),
        }
    return results


def wait_for_zones(knot: KnotServer, domains: list[str], timeout: float = 60.0) -> None:
    """Wait until Knot returns the SOA of the last generated zone, because it loads zones in the background."""
    deadline = time.monotonic() + timeout
    query = dns.message.make_query(domains[-1], "SOA")
    while time.monotonic() < deadline:
        try:
            if dns.query.udp(query, knot.host, port=knot.port, timeout=0.5).answer:
                return
        except dns.exception.Timeout:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Knot did not load {domains[-1]} within {timeout:.0f} s; see {knot.log_path}")


def run_inside(options) -> dict:
    """Start the servers on this namespace's loopback, run both benchmarks, stop the servers."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    workdir = Path(tempfile.mkdtemp(prefix="maildiag-dns-bench-"))
    knot = unbound = proxy = None
    try:
        domains = write_zones(workdir / "zones", options.domains)
        knot = KnotServer(workdir / "knot", zones_dir=workdir / "zones")
        knot.start()
        wait_for_zones(knot, domains)
        (workdir / "unbound").mkdir()
        unbound = UnboundServer(workdir / "unbound", knot)
        unbound.start()
        proxy = CountingProxy(PROXY_ADDRESS, ("127.0.0.1", unbound.port))

        comparison = compare_tools(proxy, options.runs)
        throughput = measure_throughput(domains, knot, workdir, [1, 8])
    finally:
        if proxy:
            proxy.close()
        if unbound:
            unbound.stop()
        if knot:
            knot.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"comparison": comparison, "throughput": throughput, "domains": options.domains, "runs": options.runs}


def run_isolated(domains: int, runs: int) -> dict:
    """Run this script in a new network namespace and return its results."""
    if shutil.which("unshare") is None:
        raise RuntimeError("unshare (util-linux) is not installed; it is needed to isolate the benchmark's network")
    command = ["unshare", "--net", "--", sys.executable, __file__, INSIDE_FLAG, "--json", "--domains", str(domains), "--runs", str(runs)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the DNS benchmark failed (exit {done.returncode}); unshare --net needs root or CAP_SYS_ADMIN:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def rows(results: dict) -> list[tuple[str, str, str]]:
    """Return (label, maildiag, baseline) rows in the format of bench/run.py."""
    ours, theirs = results["comparison"]["maildiag"], results["comparison"]["checkdmarc"]
    ratio = ours["median_seconds"] / theirs["median_seconds"]
    count = len(COMPARED_DOMAINS)
    table = [
        (f"dns vs checkdmarc, {count} domains, wall", f"{ours['median_seconds']:.2f} s", f"checkdmarc: {theirs['median_seconds']:.2f} s; ratio {ratio:.2f} (target <= 1.0)"),
        (f"dns vs checkdmarc, {count} domains, queries", f"{ours['messages_sent']:.0f}", f"checkdmarc: {theirs['messages_sent']:.0f} (target: fewer)"),
    ]
    single = results["throughput"]["1"] if "1" in results["throughput"] else results["throughput"][1]
    for jobs, entry in sorted(results["throughput"].items(), key=lambda item: int(item[0])):
        speedup = entry["domains_per_second"] / single["domains_per_second"]
        table.append((f"dns --jobs {jobs}, {results['domains']:,} domains", f"{entry['domains_per_second']:,.0f} dom/s", f"{speedup:.2f}x --jobs 1; {entry['questions_per_domain']:.1f} questions/domain"))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=1000, help="number of generated zones for the --jobs benchmark")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool in the comparison")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    parser.add_argument(INSIDE_FLAG, dest="inside", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()

    results = run_inside(options) if options.inside else run_isolated(options.domains, options.runs)
    if options.json:
        print(json.dumps(results, indent=2))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'benchmark':<48} {'maildiag':>14}  baseline")
    for label, ours, baseline in rows(results):
        print(f"{label:<48} {ours:>14}  {baseline}")


if __name__ == "__main__":
    main()
