"""Analyse the tasks of an audit in worker processes, with bounded memory, results in input order.

Tasks go to the workers in chunks, and at most WINDOW chunks per worker are in flight:
the parent submits a new chunk only after taking the results of the oldest one. So the
batch is never listed in memory as messages, whatever its size. (multiprocessing.Pool.imap
would not do: its feeder thread reads the whole task iterator ahead.)
"""

import json
import logging
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from diag.audit.headerfields import header_fields
from diag.audit.outcomes import reduce_outcomes
from diag.audit.sources import BYTES, ERROR, SKIPPED, Task, load_bytes
from diag.audit.summary import message_record
from diag.errors import InputError

log = logging.getLogger(__name__)

# Messages per chunk sent to a worker: large enough that inter-process traffic costs little
# next to the analysis, small enough that the progress bar moves.
CHUNK_MESSAGES = 32
# Bytes of mbox messages per chunk: messages with big attachments close a chunk early.
CHUNK_BYTES = 4 * 1024 * 1024
# Chunks in flight per worker: one being analysed, the rest queued so no worker waits.
WINDOW = 3

# Payload kinds: the serialised form of the message report that the output format writes.
PAYLOAD_NONE = None
PAYLOAD_JSON = "json"
PAYLOAD_JSONL = "jsonl"


@dataclass(frozen=True)
class WorkerSettings:
    """Settings of the analysis, sent to each worker; rules are loaded once per worker."""

    rules_dirs: tuple[str, ...] = ()
    authserv_id: str | None = None
    offline: bool = True
    payload: str | None = PAYLOAD_NONE


@dataclass
class Result:
    """The outcome of one task: a message record (and its serialised report), an input error, or a skipped input."""

    path: str
    index: int
    record: dict | None = None
    payload: str | None = None
    error: dict | None = None
    # {"source", "index", "message"} of an input left out on purpose (sources.SKIPPED).
    skipped: dict | None = None


class Analyzer:
    """Analyses tasks with the rules loaded once; one per worker process.

    `resolver`, when given, answers the DNS questions of message verification (DKIM, SPF,
    DMARC): the run's resolver with one job, a WorkerResolver on the shared one with more.
    """

    def __init__(self, settings: WorkerSettings, resolver=None) -> None:
        from diag.engine.loader import load_rules
        from diag.pipeline import AnalyzeOptions

        self.settings = settings
        self.options = AnalyzeOptions(
            rules=load_rules([Path(directory) for directory in settings.rules_dirs]),
            authserv_id=settings.authserv_id,
            offline=settings.offline,
        )
        if resolver is not None:
            from diag.verify.collect import VerifySession

            self.options.verify_session = VerifySession(resolver)

    def analyze(self, task: Task) -> Result:
        from diag.pipeline import analyze_bytes

        if task.kind == ERROR:
            return error_result(task.path, task.index, task.reason)
        if task.kind == SKIPPED:
            return Result(task.path, task.index, skipped={"source": task.path, "index": task.index, "message": task.reason})
        try:
            data = load_bytes(task)
            message = analyze_bytes(data, source=task.path, options=self.options, index=task.index)
        except InputError as error:
            return error_result(task.path, task.index, str(error))
        except OSError as error:
            # Reads report their own errors as InputError; this catches the rest (the
            # open-file limit reached while a library opens a file, for example).
            return error_result(task.path, task.index, f"{task.path}: cannot read: {error.strerror or error}")
        except Exception as error:  # noqa: BLE001
            # One message that trips a bug must not end an audit of thousands: it is listed
            # as an input error, with the traceback in the debug log.
            log.debug("analysis of %s #%d failed", task.path, task.index, exc_info=True)
            return error_result(task.path, task.index, f"{task.path}: analysis failed ({type(error).__name__}: {error}); please report this message to the maildiag developers")

        message["header_fields"] = header_fields(data)
        if task.kind == BYTES:
            # The index alone does not say whether the path is a container, and for an mbox
            # the report must show "#0" for the first message.
            message["source"]["mbox"] = True
        return Result(task.path, task.index, record=message_record(message), payload=serialise(message, self.settings.payload))


def serialise(message: dict, payload: str | None) -> str | None:
    """Return the message report as the output format writes it, so the parent only copies text.

    The form is that of `maildiag analyze -f json` (diag/report/jsonreport.py) with the
    outcomes reduced (diag/audit/outcomes.py) and the header_fields section added.
    """
    if payload is None:
        return None
    message = reduce_outcomes(message)
    if payload == PAYLOAD_JSON:
        return json.dumps(message, indent=2, sort_keys=True, ensure_ascii=True)
    if payload == PAYLOAD_JSONL:
        return json.dumps({"type": "message", "message": message}, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return None


def error_result(path: str, index: int, reason: str) -> Result:
    return Result(path, index, error={"source": path, "index": index, "message": reason})


# The worker process's analyser, set by _start_worker.
_worker_analyzer: Analyzer | None = None


def _start_worker(settings: WorkerSettings, shared_resolver) -> None:
    global _worker_analyzer
    resolver = None
    if shared_resolver is not None:
        from diag.audit.dnsshare import WorkerResolver

        resolver = WorkerResolver(shared_resolver)
    _worker_analyzer = Analyzer(settings, resolver)


def _analyze_chunk(tasks: list[Task]) -> list[Result]:
    return [_worker_analyzer.analyze(task) for task in tasks]


def chunks(tasks: Iterable[Task], size: int = CHUNK_MESSAGES, max_bytes: int = CHUNK_BYTES) -> Iterator[list[Task]]:
    """Group tasks into lists of at most `size` tasks and about `max_bytes` of carried data."""
    chunk: list[Task] = []
    carried = 0
    for task in tasks:
        chunk.append(task)
        carried += len(task.data) if task.data else 0
        if len(chunk) >= size or carried >= max_bytes:
            yield chunk
            chunk, carried = [], 0
    if chunk:
        yield chunk


def run(tasks: Iterable[Task], settings: WorkerSettings, jobs: int, resolver=None) -> Iterator[Result]:
    """Yield one Result per task, in task order. `jobs` 1 analyses in this process.

    `resolver` is the run's resolver with one job, or the proxy of a
    diag.audit.dnsshare.SharedResolver with more; None verifies nothing against DNS.
    """
    if jobs <= 1:
        analyzer = Analyzer(settings, resolver)
        for task in tasks:
            yield analyzer.analyze(task)
        return

    with ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker, initargs=(settings, resolver)) as pool:
        pending = deque()
        try:
            for chunk in chunks(tasks):
                pending.append(pool.submit(_analyze_chunk, chunk))
                if len(pending) >= jobs * WINDOW:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        except BaseException:
            # Interrupted or the consumer stopped: drop the queued chunks instead of finishing them.
            for future in pending:
                future.cancel()
            raise
