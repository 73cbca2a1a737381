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
    # Each worker's first message waits at a barrier for the other worker's first message.
    # Workers that ran one after the other would break the barrier and fail those messages.
    import multiprocessing
    import threading

    import diag.pipeline

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the patched analyze_bytes reaches the workers only when they are forked")
    analyze = diag.pipeline.analyze_bytes
    barrier = multiprocessing.Barrier(2, timeout=60)
    first_call = threading.Event()

    def meet_then_analyze(*args, **kwargs):
        # The Event is copied into each forked worker, so it marks that worker's first call.
        if not first_call.is_set():
            first_call.set()
            barrier.wait()
        return analyze(*args, **kwargs)

    monkeypatch.setattr(diag.pipeline, "analyze_bytes", meet_then_analyze)
    tasks = [Task("batch.mbox", index, BYTES, data=MESSAGE) for index in range(2 * CHUNK_MESSAGES)]
    results = list(run(tasks, WorkerSettings(), jobs=2))

    assert len(results) == 2 * CHUNK_MESSAGES
    assert [result.index for result in results if result.error is not None] == []
