"""HTML: one self-contained page with the summary, inline SVG charts and a filterable message table.

The page loads nothing: the style and script are inline and allowed by their hashes in a
Content-Security-Policy meta tag, the charts are SVG elements drawn by the template, and
every value from a message is escaped by Jinja2's autoescape.
"""

from typing import TextIO

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from diag.audit.runner import Result
from diag.audit.summary import CHECKS
from diag.paths import data_path
from diag.report.html import STYLESHEET, content_security_policy, result_class
from diag.report.view import clean

TEMPLATE = "audit.html.j2"
AUDIT_STYLESHEET = "audit.css.j2"
AUDIT_SCRIPT = "audit.js.j2"
# Rows in the per-domain and per-finding charts; the tables list every row.
CHART_ROWS = 15


def _environment() -> Environment:
    # autoescape=True for every template, whatever its file name (see diag/report/html.py).
    environment = Environment(
        loader=FileSystemLoader(str(data_path("reports") / "html")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["result_class"] = result_class
    environment.filters["clean"] = clean
    return environment


class Sink:
    payload = None

    def __init__(self, stream: TextIO, header: dict) -> None:
        self.stream = stream
        self.header = header
        self.records: list[dict] = []
        self.errors: list[dict] = []

    def add(self, result: Result) -> None:
        if result.error is not None:
            self.errors.append(result.error)
        else:
            self.records.append(result.record)

    def finish(self, summary: dict) -> None:
        environment = _environment()
        html_folder = data_path("reports") / "html"
        # The reporter's stylesheet first, so verdict colours match the analyze report.
        css = (html_folder / STYLESHEET).read_text(encoding="utf-8") + environment.get_template(AUDIT_STYLESHEET).render()
        script = environment.get_template(AUDIT_SCRIPT).render()

        page = environment.get_template(TEMPLATE).render(
            header=self.header,
            summary=summary,
            checks=CHECKS,
            records=self.records,
            errors=self.errors,
            chart_rows=CHART_ROWS,
            # Markup: the project's own files, inserted as they are so that the hashes match.
            css=Markup(css),
            script=Markup(script),
            csp=content_security_policy(css, script),
        )
        self.stream.write(page)
