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


# Formats whose default view leaves out the rules that did not run; show_all lists them.
SHOW_ALL_FORMATS = {"terminal"}


def render(report: dict, fmt: str, stream: TextIO, show_all: bool = False) -> None:
    """Write `report` to `stream` in format `fmt`. Raises UsageError for an unknown format.

    `show_all` lists every rule that did not run or did not apply, one a line, where the
    format would otherwise print one line per reason (the terminal report). HTML and
    Markdown always carry the full lists, collapsed.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown report format {fmt!r}; use one of: {', '.join(FORMATS)}")

    module = importlib.import_module(FORMATS[fmt])
    log.debug("rendering the %s report with %s", fmt, module.__name__)
    if fmt in SHOW_ALL_FORMATS:
        module.render(report, stream, show_all=show_all)
    else:
        module.render(report, stream)
