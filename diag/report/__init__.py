"""Reporters: one module per output format, each exposing `render(report, stream)`.

`report` is the dictionary that diag.pipeline.build_report returns; `stream` is a text
stream opened for writing.
"""

import importlib
import logging
from typing import TextIO

from diag.errors import UsageError

log = logging.getLogger(__name__)

# Format name to module. Modules are imported on use so that `maildiag analyze` loads only
# the reporter it writes with (jinja2 and rich are not needed by every format).
FORMATS = {
    "terminal": "diag.report.terminal",
    "json": "diag.report.jsonreport",
    "html": "diag.report.html",
    "sarif": "diag.report.sarif",
    "junit": "diag.report.junit",
    "markdown": "diag.report.markdown",
}


def render(report: dict, fmt: str, stream: TextIO) -> None:
    """Write `report` to `stream` in format `fmt`. Raises UsageError for an unknown format."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown report format {fmt!r}; use one of: {', '.join(FORMATS)}")

    module = importlib.import_module(FORMATS[fmt])
    log.debug("rendering the %s report with %s", fmt, module.__name__)
    module.render(report, stream)
