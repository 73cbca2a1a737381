"""The compact row that the terminal and HTML reports keep per message until the end of a run.

Those formats print the summary first, so they hold one row per message. A row is a
NamedTuple instead of the record dict, without the hop delays (the summary has taken them),
and with the strings that repeat across messages (domains, receivers, results, finding
names) interned, so that the batch shares one copy of each.
"""

import sys
from typing import NamedTuple


class Row(NamedTuple):
    path: str
    index: int
    mbox: bool
    date: str | None
    date_raw: str | None
    subject: str | None
    message_id: str | None
    from_address: str | None
    from_display_name: str | None
    from_domain: str | None
    receiver: str
    spf: str | None
    spf_aligned: str | None
    dkim: str | None
    dmarc: str | None
    compauth: str | None
    reason: str | None
    scl: int | None
    bcl: int | None
    cat: str | None
    # (finding name, severity) pairs.
    findings: tuple[tuple[str, str], ...]


# Fields with few distinct values in a batch.
_SHARED = ("from_domain", "receiver", "spf", "spf_aligned", "dkim", "dmarc", "compauth", "reason", "cat")


def table_row(record: dict) -> Row:
    """Return the Row of a message record (diag.audit.summary.message_record)."""
    values = {name: record.get(name) for name in Row._fields}
    for name in _SHARED:
        if isinstance(values[name], str):
            values[name] = sys.intern(values[name])
    values["findings"] = tuple((sys.intern(name), sys.intern(severity)) for name, severity in record["findings"])
    return Row(**values)


class RowCollector:
    """The part of the terminal and HTML sinks that keeps rows, input errors and skipped paths."""

    def __init__(self) -> None:
        self.records: list[Row] = []
        self.errors: list[dict] = []
        self.skipped: list[dict] = []

    def add(self, result) -> None:
        if result.error is not None:
            self.errors.append(result.error)
        elif result.skipped is not None:
            self.skipped.append(result.skipped)
        else:
            self.records.append(table_row(result.record))
