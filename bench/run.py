"""Benchmarks printed side by side with their baselines, in one run.

Usage: python bench/run.py [--messages N] [--only startup,throughput]

- start-up: `maildiag analyze SAMPLE --offline --format json` against `python -c pass`
- throughput: messages analysed per second in one process over N generated .eml files,
  against the stdlib BytesHeaderParser (compat32 policy) reading the same files
- dns: `maildiag dns` against the checkdmarc CLI (wall time, DNS messages) and --jobs
  throughput over --domains generated zones, in a network namespace (needs root)
Other benchmarks register themselves in BENCHMARKS below.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
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


def generate_messages(folder: Path, count: int) -> list[Path]:
    """Write `count` .eml files: the bundled samples with a unique Message-ID each."""
    templates = [path.read_bytes() for path in sorted((ROOT / "samples").rglob("*")) if path.suffix in {".eml", ".txt"} and path.stat().st_size < 200_000]
    paths = []
    for number in range(count):
        data = templates[number % len(templates)]
        path = folder / f"{number:06d}.eml"
        path.write_bytes(b"X-Bench-Id: %d\n" % number + data)
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


BENCHMARKS = {"startup": bench_startup, "throughput": bench_throughput, "dns": bench_dns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="number of generated messages")
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
