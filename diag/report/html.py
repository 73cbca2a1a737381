"""HTML report: one self-contained file that opens offline and runs nothing from the message."""

import base64
import hashlib
from typing import TextIO

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from diag.paths import data_path
from diag.report.causes import join_names
from diag.report.inline import split_code_spans
from diag.report.view import SEVERITIES, build_view, is_web_url, result_tone

TEMPLATE = "report.html.j2"
STYLESHEET = "report.css"
SCRIPT = "filter.js"


def html_environment() -> Environment:
    """Return a Jinja2 environment over reports/html that escapes every value.

    autoescape=True, not select_autoescape: select_autoescape decides by file extension,
    and a `.j2` name would turn escaping off. Header values must always be escaped.
    """
    return Environment(
        loader=FileSystemLoader(str(data_path("reports") / "html")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _environment() -> Environment:
    environment = html_environment()
    environment.globals["is_web_url"] = is_web_url
    environment.globals["result_class"] = result_class
    environment.globals["join_names"] = join_names
    environment.filters["inline_code"] = inline_code
    environment.filters["anchor"] = anchor
    return environment


def inline_code(text: object) -> Markup:
    """Return rule text as HTML: every piece escaped, and each `code span` as <code>.

    The text is split at backtick pairs first and each piece is escaped on its own, so no
    value, inside a code span or not, can become markup.
    """
    pieces = []
    for segment in split_code_spans(str(text)):
        if segment.code:
            pieces.append(Markup("<code>{}</code>").format(segment.text))
        else:
            pieces.append(escape(segment.text))
    return Markup("").join(pieces)


def anchor(name: object, subject_index: int) -> str:
    """Return the id of a finding's <article>, unique per subject: `s1-dmarc-fail`."""
    # Rule names are lower-case slugs (docs/rules.md), but a name from a --rules folder is
    # still reduced to id-safe characters.
    slug = "".join(char if char.isalnum() or char == "-" else "-" for char in str(name).lower())
    return f"s{subject_index}-{slug}"


def result_class(result: str) -> str:
    """Return the CSS class that colours a verdict."""
    tone = result_tone(result)
    return f"result-{tone}" if tone else ""


def csp_hash(text: str) -> str:
    """Return the CSP source expression that allows exactly this inline style or script."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(css: str, script: str) -> str:
    """Return a policy that blocks every load and runs only the report's own style and script.

    A <meta> policy cannot carry frame-ancestors or report-uri (CSP Level 3, section 3.3),
    and needs none here.
    """
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src {csp_hash(css)}",
            f"script-src {csp_hash(script)}",
            "img-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def render(report: dict, stream: TextIO) -> None:
    """Write the report as one HTML page to `stream`."""
    html_folder = data_path("reports") / "html"
    css = (html_folder / STYLESHEET).read_text(encoding="utf-8")
    script = (html_folder / SCRIPT).read_text(encoding="utf-8")

    template = _environment().get_template(TEMPLATE)
    stream.write(
        template.render(
            view=build_view(report),
            severities=SEVERITIES,
            # Markup: the project's own files, inserted as they are so that the hashes match.
            css=Markup(css),
            script=Markup(script),
            csp=content_security_policy(css, script),
        )
    )
