"""CSV: one row per message, input error or skipped input, written as they finish (RFC 4180, CRLF line ends)."""

import csv
from typing import TextIO

from diag.audit.formats import reason_of
from diag.audit.runner import Result

# source, index and message_id identify a message, also one of many in an mbox. `date` is
# ISO 8601, or the Date field as written when it cannot be read.
COLUMNS = (
    "source", "index", "message_id", "date", "subject", "from_address", "from_domain", "org_domain",
    "receiver", "spf", "spf_aligned", "dkim", "dmarc", "compauth", "reason", "scl", "bcl", "cat",
    "findings", "error", "skipped",
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
            row = {"source": result.path, "index": result.index, "error": reason_of(result.error)}
        elif result.skipped is not None:
            row = {"source": result.path, "index": result.index, "skipped": reason_of(result.skipped)}
        else:
            record = result.record
            row = {column: record.get(column) for column in COLUMNS}
            row["source"] = record["path"]
            row["date"] = record["date"] or record["date_raw"]
            # Finding names are slugs; ";" keeps the column one cell.
            row["findings"] = ";".join(name for name, _ in record["findings"])
        self.writer.writerow([cell(row.get(column)) for column in COLUMNS])

    def finish(self, summary: dict) -> None:
        pass
