"""Benchmarks printed side by side with their baselines, in one run.

Usage: python bench/run.py [--messages N] [--only startup,throughput]

- start-up: `maildiag analyze SAMPLE --offline --format json` against `python -c pass`
- throughput: messages analysed per second in one process over N generated .eml files
  (copies of the bundled samples that look like received mail, see message_templates),
  against the stdlib BytesHeaderParser (compat32 policy) reading the same files
- audit: `maildiag audit --offline -f jsonl` at --jobs 1 and 2 over N .eml files in a folder
  and over an mbox of M messages, against the stdlib header parser over the same inputs,
  with the peak resident memory of the audit's processes (parent and workers summed)
- dns: `maildiag dns` against the checkdmarc CLI (wall time, DNS messages) and --jobs
  throughput over --domains generated zones, in a network namespace (needs root)
- authres: Authentication-Results values parsed per second by diag.facts.authres against the
  authres library over the values of samples/headers/auth-*.txt that authres accepts
- verify: full verifications per second (DKIM, ARC, SPF, DMARC) of samples/verify/ against
  a bare dkimpy verify loop over the same messages, keys cached; see bench/verify_bench.py
Other benchmarks register themselves in BENCHMARKS below.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "headers" / "ses-to-m365-spoof.txt"
MAILDIAG = Path(sys.executable).parent / "maildiag"


def time_command(args: list[str], runs: int) -> float:
    """Return the median wall time of `args` over `runs` runs, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_startup(options) -> list[tuple[str, str, str]]:
    baseline = time_command([sys.executable, "-c", "pass"], options.runs)
    ours = time_command([str(MAILDIAG), "analyze", str(SAMPLE), "--offline", "--format", "json"], options.runs)
    return [("start-up, median of %d runs" % options.runs, f"{ours:.3f} s", f"python -c pass: {baseline:.3f} s (target: maildiag < 0.25 s)")]


# Bodies for header-only samples, by the Content-Type the sample declares. {nl} is the
# sample's line ending and {boundary} the multipart boundary it declares.
_PLAIN_BODY = "Hello Alice,{nl}{nl}your order 4411 has shipped and should arrive on Thursday.{nl}{nl}-- {nl}Example Shop{nl}"
_HTML_BODY = (
    '<html><body><p>Hello Alice,</p><p>your order 4411 has shipped.'
    ' Track it at <a href="https://shop.example.net/track/4411">shop.example.net</a>.</p>{nl}'
    '<p><a href="https://shop.example.net/account">Your account</a></p></body></html>{nl}'
)
_MULTIPART_BODY = (
    "--{boundary}{nl}Content-Type: text/plain; charset=utf-8{nl}{nl}" + _PLAIN_BODY
    + "--{boundary}{nl}Content-Type: text/html; charset=utf-8{nl}{nl}" + _HTML_BODY
    + "--{boundary}--{nl}"
)


def message_templates() -> list[bytes]:
    """Return the bundled samples that look like received mail, each as a full message.

    A sample qualifies when maildiag's reader accepts it without any repair and it has a
    From field and at least one Received field. That keeps the .eml files and the header
    samples copied from delivered mail, and leaves out the deliberately damaged pastes
    (samples/headers/paste-*), the binary and empty files, and header lists that are no
    message (received-date-forms.txt has no From). A header-only sample gets a short body
    that matches its Content-Type: text, HTML with two links, or both as
    multipart/alternative.
    """
    from diag.errors import InputError
    from diag.messages.reader import read_message

    templates = []
    for path in sorted((ROOT / "samples").rglob("*")):
        if path.suffix not in {".eml", ".txt"} or not path.is_file():
            continue
        data = path.read_bytes()
        try:
            parsed = read_message(data, source=str(path))
        except InputError:
            continue
        names = {header.name.lower() for header in parsed.headers}
        if parsed.repairs or "from" not in names or "received" not in names:
            continue
        if parsed.body is None:
            data = _with_body(data.rstrip(b"\r\n"), BytesHeaderParser(policy=compat32).parsebytes(data))
        templates.append(data)
    return templates


def _with_body(head: bytes, header: Message) -> bytes:
    newline = "\r\n" if b"\r\n" in head else "\n"
    content_type = header.get_content_type()
    if content_type.startswith("multipart/") and header.get_boundary():
        body = _MULTIPART_BODY.format(nl=newline, boundary=header.get_boundary())
    elif content_type == "text/html":
        body = _HTML_BODY.format(nl=newline)
    else:
        body = _PLAIN_BODY.format(nl=newline)
    return head + (newline * 2 + body).encode("utf-8")


_MESSAGE_ID = re.compile(rb"^(Message-ID:[ \t]*<)", re.IGNORECASE | re.MULTILINE)


def generate_messages(folder: Path, count: int) -> list[Path]:
    """Write `count` .eml files, cycling through message_templates() in order.

    Each copy gets a unique Message-ID: the number is put in front of the template's own
    id (its host, which names the sending service, is kept), or a Message-ID field is
    added at the top when the template has none.
    """
    templates = message_templates()
    paths = []
    for number in range(count):
        data = templates[number % len(templates)]
        tag = b"bench%06d." % number
        data, replaced = _MESSAGE_ID.subn(lambda match: match.group(1) + tag, data, count=1)
        if not replaced:
            newline = b"\r\n" if b"\r\n" in data[:1000] else b"\n"
            data = b"Message-ID: <" + tag + b"@example.com>" + newline + data
        path = folder / f"{number:06d}.eml"
        path.write_bytes(data)
        paths.append(path)
    return paths


def bench_throughput(options) -> list[tuple[str, str, str]]:
    from diag.engine.loader import load_rules
    from diag.errors import InputError
    from diag.pipeline import AnalyzeOptions, analyze_bytes

    with tempfile.TemporaryDirectory() as folder:
        paths = generate_messages(Path(folder), options.messages)

        parser = BytesHeaderParser(policy=compat32)
        start = time.perf_counter()
        for path in paths:
            with open(path, "rb") as handle:
                parser.parse(handle)
        stdlib_rate = len(paths) / (time.perf_counter() - start)

        analyze_options = AnalyzeOptions(rules=load_rules([]), offline=True)
        start = time.perf_counter()
        failed = 0
        for path in paths:
            try:
                analyze_bytes(path.read_bytes(), source=str(path), options=analyze_options)
            except InputError:
                failed += 1
        ours_rate = len(paths) / (time.perf_counter() - start)

    ratio = ours_rate / stdlib_rate
    note = f"stdlib BytesHeaderParser: {stdlib_rate:,.0f}/s; ratio {ratio:.2f} (target >= 0.35)"
    if failed:
        note += f"; {failed} inputs rejected"
    return [(f"throughput, {options.messages:,} .eml files, one process", f"{ours_rate:,.0f} msg/s", note)]


def bench_dns(options) -> list[tuple[str, str, str]]:
    """`maildiag dns` against checkdmarc, and --jobs throughput; see bench/dns_bench.py."""
    import dns_bench

    results = dns_bench.run_isolated(options.domains, min(options.runs, 5))
    return dns_bench.rows(results)


def bench_audit(options) -> list[tuple[str, str, str]]:
    """`maildiag audit` at --jobs 1 and 2 over a folder and an mbox; see bench/audit_bench.py."""
    import audit_bench

    return audit_bench.rows(options.messages, options.mbox_messages, generate_messages, message_templates)


def bench_verify(options) -> list[tuple[str, str, str]]:
    """Full verifications per second against a bare dkimpy loop; see bench/verify_bench.py."""
    import verify_bench

    return verify_bench.rows(options.messages)


def bench_authres(options) -> list[tuple[str, str, str]]:
    """Authentication-Results values parsed per second by diag.facts.authres against the authres library."""
    import authres as reference

    from diag.facts import authres
    from diag.messages.reader import read_message

    values = []
    for path in sorted((ROOT / "samples" / "headers").glob("auth-*.txt")):
        parsed = read_message(path.read_bytes(), source=str(path))
        values += [header.unfolded for header in parsed.headers if header.lowered_name == "authentication-results"]

    # Only the values authres accepts are timed on both sides, so both parse the same text.
    accepted = []
    for value in values:
        try:
            reference.core_features().parse_value(value)
            accepted.append(value)
        except reference.AuthResError:
            pass
    repeated = accepted * max(1, options.messages // max(1, len(accepted)))

    start = time.perf_counter()
    for value in repeated:
        authres.parse_value(value)
    ours = len(repeated) / (time.perf_counter() - start)

    start = time.perf_counter()
    for value in repeated:
        reference.core_features().parse_value(value)
    theirs = len(repeated) / (time.perf_counter() - start)
    return [(f"Authentication-Results values, {len(accepted)} distinct", f"{ours:,.0f}/s", f"authres library: {theirs:,.0f}/s; ratio {ours / theirs:.1f}")]


BENCHMARKS = {"startup": bench_startup, "throughput": bench_throughput, "authres": bench_authres, "dns": bench_dns, "audit": bench_audit, "verify": bench_verify}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="number of generated messages")
    parser.add_argument("--mbox-messages", type=int, default=100_000, help="messages in the mbox of the audit benchmark")
    parser.add_argument("--runs", type=int, default=15, help="runs per start-up timing (at most 5 for dns)")
    parser.add_argument("--domains", type=int, default=1000, help="number of generated zones for the dns --jobs benchmark")
    parser.add_argument("--only", help="comma-separated benchmark names: " + ", ".join(BENCHMARKS))
    options = parser.parse_args()

    selected = options.only.split(",") if options.only else list(BENCHMARKS)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'benchmark':<48} {'maildiag':>14}  baseline")
    for name in selected:
        for label, ours, baseline in BENCHMARKS[name](options):
            print(f"{label:<48} {ours:>14}  {baseline}")


if __name__ == "__main__":
    main()
