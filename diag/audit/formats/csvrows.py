"""CSV: one row per message or input error, written as they finish (RFC 4180, CRLF line ends)."""

import csv
from typing import TextIO

from diag.audit.runner import Result

COLUMNS = (
    "source", "index", "from_domain", "org_domain", "receiver", "spf", "dkim", "dmarc",
    "compauth", "reason", "scl", "bcl", "cat", "findings", "error",
)
# A cell that starts with one of these is read as a formula by spreadsheet programs (OWASP
# "CSV Injection"); such text cells get a leading apostrophe. Numbers are left alone.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str | int:
    """Return a CSV cell: None as empty, numbers as they are, text defused against formula execution."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class Sink:
    payload = None

    def __init__(self, stream: TextIO, header: dict) -> None:
        self.writer = csv.writer(stream)
        self.writer.writerow(COLUMNS)

    def add(self, result: Result) -> None:
        if result.error is not None:
            row = {"source": result.path, "index": result.index, "error": result.error["message"]}
        else:
            record = result.record
            row = {column: record.get(column) for column in COLUMNS}
            row["source"] = record["path"]
            # Finding names are slugs; ";" keeps the column one cell.
            row["findings"] = ";".join(name for name, _ in record["findings"])
        self.writer.writerow([cell(row.get(column)) for column in COLUMNS])

    def finish(self, summary: dict) -> None:
        pass
