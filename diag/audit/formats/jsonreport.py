"""JSON: the report of `maildiag analyze -f json` with the audit summary, written as messages finish.

The document is written in pieces so that the messages need not be held: "messages" comes
first, then "errors", "summary" and the other top-level fields. Each message is the text
the worker serialised, indented one level deeper. reports/schema/audit.schema.json
describes the result.
"""

import json
from typing import TextIO

from diag.audit.runner import PAYLOAD_JSON, Result

INDENT = "  "


def _value(value) -> str:
    """Return `value` as indented JSON for a top-level field."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True).replace("\n", "\n" + INDENT)


class Sink:
    payload = PAYLOAD_JSON

    def __init__(self, stream: TextIO, header: dict) -> None:
        self.stream = stream
        self.header = header
        self.errors: list[dict] = []
        self.skipped: list[dict] = []
        self.count = 0
        self.stream.write('{\n  "command": ' + json.dumps(header["command"]) + ',\n  "messages": [')

    def add(self, result: Result) -> None:
        if result.error is not None:
            self.errors.append(result.error)
            return
        if result.skipped is not None:
            self.skipped.append(result.skipped)
            return
        separator = "," if self.count else ""
        self.stream.write(separator + "\n" + INDENT * 2 + result.payload.replace("\n", "\n" + INDENT * 2))
        self.count += 1

    def finish(self, summary: dict) -> None:
        self.stream.write(("\n" + INDENT + "]") if self.count else "]")
        fields = {key: value for key, value in self.header.items() if key != "command"}
        fields["errors"] = self.errors
        fields["skipped"] = self.skipped
        fields["summary"] = summary
        for key in sorted(fields):
            self.stream.write(",\n" + INDENT + json.dumps(key) + ": " + _value(fields[key]))
        self.stream.write("\n}\n")
