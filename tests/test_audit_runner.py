"""Audit runner: input order, bounded read-ahead, chunking and error isolation."""

import itertools

import pytest

from diag.audit.runner import CHUNK_MESSAGES, WINDOW, Analyzer, WorkerSettings, chunks, run
from diag.audit.sources import BYTES, ERROR, Task

MESSAGE = (
    b"Received: from mail.example.org (mail.example.org [192.0.2.1]) by mx.example.net\n"
    b" with ESMTPS; Tue, 03 Nov 2026 12:00:09 +0000\n"
    b"Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.org;\n"
    b" dmarc=pass header.from=example.org\n"
    b"From: Billing <billing@example.org>\n"
    b"Date: Tue, 03 Nov 2026 12:00:00 +0000\n"
)


def _tasks(count):
    for index in range(count):
        if index % 5 == 4:
            yield Task("batch.mbox", index, BYTES, data=b"\x00\x01binary")
        else:
            yield Task("batch.mbox", index, BYTES, data=MESSAGE)


def test_results_in_task_order():
    results = list(run(_tasks(200), WorkerSettings(), jobs=2))

    assert [result.index for result in results] == list(range(200))


def test_bad_message_does_not_stop_batch():
    results = list(run(_tasks(10), WorkerSettings(), jobs=2))

    errors = [result.index for result in results if result.error is not None]
    assert errors == [4, 9]
    assert "binary" in results[4].error["message"]
    assert results[5].record["spf"] == "pass"


def test_read_ahead_is_bounded():
    consumed = itertools.count()

    def endless():
        for index in itertools.count():
            next(consumed)
            yield Task("listed.eml", index, ERROR, reason="listed.eml: file not found")

    results = run(endless(), WorkerSettings(), jobs=2)
    first = next(results)
    results.close()

    assert first.index == 0
    # One chunk being cut, plus the chunks in flight: the rest of the input is never read.
    assert next(consumed) <= (2 * WINDOW + 1) * CHUNK_MESSAGES + 1


def test_chunks_close_on_bytes():
    tasks = [Task("big.mbox", index, BYTES, data=b"x" * 1000) for index in range(10)]

    sizes = [len(chunk) for chunk in chunks(tasks, size=100, max_bytes=3000)]

    assert sizes == [3, 3, 3, 1]


def test_analysis_failure_is_input_error(monkeypatch):
    import diag.pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(diag.pipeline, "analyze_bytes", broken)

    result = Analyzer(WorkerSettings()).analyze(Task("a.eml", 0, BYTES, data=MESSAGE))

    assert "analysis failed (RuntimeError: parser bug)" in result.error["message"]


def test_two_jobs_overlap(monkeypatch):
    # Each message waits 20 ms without using the CPU, so the timing does not depend on how
    # many cores the machine has free: two workers must take about half the time of one.
    import multiprocessing
    import time

    import diag.pipeline

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the patched analyze_bytes reaches the workers only when they are forked")
    analyze = diag.pipeline.analyze_bytes

    def slow(*args, **kwargs):
        time.sleep(0.02)
        return analyze(*args, **kwargs)

    monkeypatch.setattr(diag.pipeline, "analyze_bytes", slow)
    tasks = [Task("batch.mbox", index, BYTES, data=MESSAGE) for index in range(64)]
    timings = {}
    for jobs in (1, 2):
        start = time.perf_counter()
        results = list(run(tasks, WorkerSettings(), jobs=jobs))
        timings[jobs] = time.perf_counter() - start
        assert len(results) == 64

    assert timings[2] < 0.7 * timings[1], timings
