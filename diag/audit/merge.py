"""Combine the JSON Lines outputs of `maildiag audit --shard I/N -f jsonl` into one audit.

Each file is read line by line, so shards of any size merge in constant memory except for
the set of (path, index) keys used to find a message that two files both contain.
"""

import json
import logging
from collections.abc import Iterable, Iterator

from diag.audit.runner import Result, error_result, serialise
from diag.audit.summary import message_record

log = logging.getLogger(__name__)


def merge_results(files: Iterable[str], payload: str | None) -> Iterator[Result]:
    """Yield the results stored in the JSON Lines `files`, in file order.

    Problems with the files themselves (unreadable, invalid line, no final summary line,
    a message in two files) are yielded as input errors naming the file, and logged.
    """
    seen: set[tuple[str, int]] = set()
    shards: dict[int, set[int]] = {}
    for path in files:
        yield from _read_shard(path, payload, seen, shards)
    _check_coverage(shards)


def _read_shard(path: str, payload: str | None, seen: set, shards: dict[int, set[int]]) -> Iterator[Result]:
    try:
        stream = open(path, encoding="utf-8")
    except OSError as error:
        yield error_result(path, 0, f"{path}: cannot read the shard file: {error.strerror}")
        return

    finished = False
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                kind = entry["type"]
            except (ValueError, KeyError, TypeError):
                yield error_result(path, number, f"{path}: line {number} is not an audit JSON Lines record; pass files written by `maildiag audit -f jsonl`")
                continue

            if kind == "summary":
                finished = True
                _note_shard(path, entry.get("shard"), shards)
            elif kind == "error":
                yield Result(entry["error"]["source"], entry["error"].get("index", 0), error=entry["error"])
            elif kind == "skipped":
                yield Result(entry["skipped"]["source"], entry["skipped"].get("index", 0), skipped=entry["skipped"])
            elif kind == "message":
                message = entry["message"]
                key = (message["source"]["path"], message["source"]["index"])
                if key in seen:
                    yield error_result(path, number, f"{path}: line {number} repeats message {key[0]} #{key[1]} from an earlier file; merge each shard once")
                    continue
                seen.add(key)
                yield Result(key[0], key[1], record=message_record(message), payload=serialise(message, payload))
            else:
                yield error_result(path, number, f"{path}: line {number} has unknown type {kind!r}; expected message, error, skipped or summary")

    if not finished:
        yield error_result(path, 0, f"{path}: no summary line at the end: the shard run did not finish or the file was cut off; run that shard again")


def _note_shard(path: str, shard: str | None, shards: dict[int, set[int]]) -> None:
    if not shard:
        return
    number, _, count = shard.partition("/")
    if number.isdigit() and count.isdigit():
        shards.setdefault(int(count), set()).add(int(number))
    else:
        log.warning("%s: shard %r in the summary line is not I/N", path, shard)


def _check_coverage(shards: dict[int, set[int]]) -> None:
    """Warn when the files come from different shard counts or miss some shards."""
    if len(shards) > 1:
        log.warning("the files come from runs with different shard counts (%s); each message may be counted once, twice or not at all",
                    ", ".join(str(count) for count in sorted(shards)))
    for count, numbers in shards.items():
        missing = sorted(set(range(1, count + 1)) - numbers)
        if missing:
            log.warning("shards %s of %d are missing: the merged audit covers only part of the inputs",
                        ", ".join(str(number) for number in missing), count)
