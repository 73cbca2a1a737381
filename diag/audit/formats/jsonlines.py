"""JSON Lines: one line per message as it finishes, one per input error, and a final summary line.

Lines are objects with a `type`:
    {"type": "message", "message": {...}}   the message as in `analyze -f json`, outcomes reduced
    {"type": "error", "error": {"source", "index", "message"}}
    {"type": "skipped", "skipped": {"source", "index", "message"}}
    {"type": "summary", "schema_version", "tool", "command", "shard", "summary": {...}}
Nothing is kept in memory, so batches of any size stream through. `audit --merge` reads these.
"""

import json
from typing import TextIO

from diag.audit.runner import PAYLOAD_JSONL, Result


def _line(value: dict) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


class Sink:
    payload = PAYLOAD_JSONL

    def __init__(self, stream: TextIO, header: dict) -> None:
        self.stream = stream
        self.header = header

    def add(self, result: Result) -> None:
        if result.error is not None:
            self.stream.write(_line({"type": "error", "error": result.error}) + "\n")
        elif result.skipped is not None:
            self.stream.write(_line({"type": "skipped", "skipped": result.skipped}) + "\n")
        else:
            self.stream.write(result.payload + "\n")

    def finish(self, summary: dict) -> None:
        self.stream.write(_line({"type": "summary", **self.header, "summary": summary}) + "\n")
