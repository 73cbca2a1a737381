"""`maildiag audit` throughput and memory, for bench/run.py.

Each audit runs as `maildiag audit INPUT --offline --quiet -f jsonl -o /dev/null --jobs N`,
the streaming form meant for large batches. Memory is sampled from /proc every 0.1 s over
the audit process and its workers, so a peak shorter than that can be missed. It is given
twice: the summed RSS, which counts the pages that forked workers share with the parent
once per process, and the summed PSS (proc(5), smaps_rollup), which splits them.

CPU time (user + system of the whole process tree, from getrusage) is printed beside the
rate: on a machine whose other load varies, the wall-clock speed-up from one job to two says
little without it, so a control row times two CPU-bound processes against one.
"""

import mailbox
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

MAILDIAG = Path(sys.executable).parent / "maildiag"
SAMPLE_INTERVAL = 0.1
JOBS = (1, 2)


def write_mbox(path: Path, count: int, templates: list[bytes]) -> None:
    """Write an mbox (mboxo, RFC 4155) of `count` messages cycling through `templates`."""
    prepared = []
    for data in templates:
        if data.startswith(b"From "):
            data = data.split(b"\n", 1)[1]
        data = data.replace(b"\r\n", b"\n")
        # mboxo quoting: a body line that starts with "From " would start a new message.
        prepared.append(data.replace(b"\nFrom ", b"\n>From ").rstrip(b"\n") + b"\n\n")
    with open(path, "wb") as stream:
        for number in range(count):
            stream.write(b"From bench@example.com Tue Nov  3 09:00:00 2026\nX-Bench-Id: %d\n" % number)
            stream.write(prepared[number % len(prepared)])


def process_tree_memory_kib(root: int) -> tuple[int, int]:
    """Return the summed RSS and PSS, in KiB, of process `root` and its descendants, read from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name is in brackets and may contain spaces: the fields after the last
        # ")" are state, then the parent's pid (proc(5)).
        parents[int(entry)] = int(stat[stat.rindex(b")") + 2:].split()[1])

    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)

    rss = pss = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                fields = {line.split(":")[0]: int(line.split()[1]) for line in handle if line.split(":")[0] in ("Rss", "Pss")}
        except OSError:
            continue
        rss += fields.get("Rss", 0)
        pss += fields.get("Pss", 0)
    return rss, pss


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_audit(source: Path, jobs: int) -> tuple[float, float, int, int]:
    """Run one audit; return its wall time and CPU time in seconds, and the peak summed RSS and PSS in MiB."""
    args = [str(MAILDIAG), "audit", str(source), "--offline", "--quiet", "-f", "jsonl", "-o", os.devnull, "--jobs", str(jobs)]
    cpu_before = _children_cpu()
    start = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_rss = peak_pss = 0
    while process.poll() is None:
        rss, pss = process_tree_memory_kib(process.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(SAMPLE_INTERVAL)
    return time.perf_counter() - start, _children_cpu() - cpu_before, peak_rss // 1024, peak_pss // 1024


def _spin(count: int) -> int:
    total = 0
    for number in range(count):
        total += number * number
    return total


def control_speedup(count: int = 20_000_000) -> float:
    """Return the wall-clock speed-up of two CPU-bound processes over one process doing both loops."""
    start = time.perf_counter()
    _spin(count)
    _spin(count)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_spin, [count, count]))
    return serial / (time.perf_counter() - start)


def stdlib_rate(messages: Iterable[bytes], count: int) -> float:
    """Return messages per second for the stdlib header parser (compat32) over `messages`."""
    parser = BytesHeaderParser(policy=compat32)
    start = time.perf_counter()
    for data in messages:
        parser.parsebytes(data)
    return count / (time.perf_counter() - start)


def _audit_rows(label: str, source: Path, count: int, baseline: str) -> list[tuple[str, str, str]]:
    rows, rates = [], {}
    for jobs in JOBS:
        elapsed, cpu, rss, pss = run_audit(source, jobs)
        rates[jobs] = count / elapsed
        rows.append((f"audit, {label}, --jobs {jobs}", f"{rates[jobs]:,.0f} msg/s",
                     f"{baseline}; CPU {cpu:.1f} s in {elapsed:.1f} s; peak RSS {rss} MiB, PSS {pss} MiB"))
    rows.append((f"audit, {label}, --jobs 2 / --jobs 1", f"{rates[2] / rates[1]:.2f}x",
                 f"target >= 1.7x; control, two CPU-bound processes: {control_speedup():.2f}x"))
    return rows


def rows(messages: int, mbox_messages: int, generate_messages: Callable, message_templates: Callable) -> list[tuple[str, str, str]]:
    """Return the benchmark rows: a folder of `messages` .eml files, then an mbox of `mbox_messages`."""
    result = []
    with tempfile.TemporaryDirectory() as folder:
        eml_folder = Path(folder) / "eml"
        eml_folder.mkdir()
        paths = generate_messages(eml_folder, messages)
        baseline = stdlib_rate((path.read_bytes() for path in paths), len(paths))
        result += _audit_rows(f"{len(paths):,} .eml", eml_folder, len(paths), f"stdlib BytesHeaderParser: {baseline:,.0f}/s")
        shutil.rmtree(eml_folder)

        mbox_path = Path(folder) / "batch.mbox"
        write_mbox(mbox_path, mbox_messages, message_templates())
        box = mailbox.mbox(str(mbox_path), create=False)
        baseline = stdlib_rate((box.get_bytes(key) for key in box.iterkeys()), mbox_messages)
        box.close()
        size = mbox_path.stat().st_size // (1024 * 1024)
        result += _audit_rows(f"mbox {mbox_messages:,} ({size} MiB)", mbox_path, mbox_messages,
                              f"stdlib mailbox + BytesHeaderParser: {baseline:,.0f}/s (target: memory < 300 MiB)")
    return result
