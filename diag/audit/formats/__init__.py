"""Audit output formats. Each is a sink that takes results as they finish and the summary at the end.

    sink = make_sink("jsonl", stream, header)
    for result in results: sink.add(result)
    sink.finish(summary)

`payload` names the serialised message form the sink writes (see diag.audit.runner), so the
workers produce it and the parent only copies text.
"""

import importlib
from typing import TextIO

from diag.errors import UsageError

# Format name to module; each module defines `Sink`.
FORMATS = {
    "terminal": "diag.audit.formats.terminal",
    "json": "diag.audit.formats.jsonreport",
    "jsonl": "diag.audit.formats.jsonlines",
    "csv": "diag.audit.formats.csvrows",
    "html": "diag.audit.formats.html",
}


def make_sink(fmt: str, stream: TextIO, header: dict):
    """Return the sink of format `fmt` writing to `stream`. `header` holds the report's top-level fields."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown audit format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return importlib.import_module(FORMATS[fmt]).Sink(stream, header)


def reason_of(entry: dict) -> str:
    """Return the message of an input error or skipped input without its leading "PATH: ".

    Messages name the path so that they stand alone on stderr and in JSON; tables that show
    the path in its own cell show only the reason.
    """
    message = entry["message"]
    prefix = f"{entry['source']}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def payload_of(fmt: str) -> str | None:
    """Return the payload kind that format `fmt` needs from the workers."""
    return importlib.import_module(FORMATS[fmt]).Sink.payload
