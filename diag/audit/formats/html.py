"""HTML: one self-contained page with the summary, inline SVG charts and a filterable message table.

The page loads nothing: the style and script are inline and allowed by their hashes in a
Content-Security-Policy meta tag, the charts are SVG elements drawn by the template, and
every value from a message is escaped by Jinja2's autoescape.
"""

from typing import TextIO

from jinja2 import Environment
from markupsafe import Markup

from diag.audit.formats import reason_of
from diag.audit.rows import RowCollector
from diag.audit.summary import CHECK_LABELS, CHECKS
from diag.paths import data_path
from diag.report.html import STYLESHEET, content_security_policy, html_environment, result_class
from diag.report.view import clean

TEMPLATE = "audit.html.j2"
AUDIT_STYLESHEET = "audit.css.j2"
AUDIT_SCRIPT = "audit.js.j2"
# Rows in the per-domain and per-finding charts; the tables list every row.
CHART_ROWS = 15
# Result columns of the message table, with short headings so that the columns stay narrow.
# The raw SPF result is left out: "SPF aligned" shows it whenever it is not a pass, and
# "not-aligned" for a pass for another domain.
TABLE_CHECKS = ("spf_aligned", "dkim", "dmarc", "compauth")
CHECK_SHORT = {"spf_aligned": "SPF aligned", "dkim": "DKIM aligned", "dmarc": "DMARC", "compauth": "compauth"}


def _environment() -> Environment:
    environment = html_environment()
    environment.globals["result_class"] = result_class
    environment.globals["reason_of"] = reason_of
    environment.filters["clean"] = clean
    environment.filters["short_date"] = short_date
    environment.filters["short_time"] = short_time
    return environment


def short_date(iso: str) -> str:
    """Return "2026-11-03 09:14 +01:00" for an ISO 8601 date with an offset: minutes, and the sender's offset."""
    return f"{iso[:10]} {short_time(iso)}"


def short_time(iso: str) -> str:
    """Return "09:14 +01:00" for an ISO 8601 date with an offset."""
    return f"{iso[11:16]} {iso[19:]}".rstrip()


class Sink(RowCollector):
    payload = None

    def __init__(self, stream: TextIO, header: dict) -> None:
        super().__init__()
        self.stream = stream
        self.header = header

    def finish(self, summary: dict) -> None:
        environment = _environment()
        html_folder = data_path("reports") / "html"
        # The reporter's stylesheet first, so verdict colours match the analyze report.
        css = (html_folder / STYLESHEET).read_text(encoding="utf-8") + environment.get_template(AUDIT_STYLESHEET).render()
        script = environment.get_template(AUDIT_SCRIPT).render()

        # generate() writes the page piece by piece: render() would hold the whole page,
        # about 1.3 KB a message, and its list of pieces as well.
        pieces = environment.get_template(TEMPLATE).generate(
            header=self.header,
            summary=summary,
            checks=CHECKS,
            check_labels=CHECK_LABELS,
            check_short=CHECK_SHORT,
            table_checks=TABLE_CHECKS,
            records=self.records,
            errors=self.errors,
            skipped=self.skipped,
            chart_rows=CHART_ROWS,
            # Markup: the project's own files, inserted as they are so that the hashes match.
            css=Markup(css),
            script=Markup(script),
            csp=content_security_policy(css, script),
        )
        for piece in pieces:
            self.stream.write(piece)
