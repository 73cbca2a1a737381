"""HTML reporter: one self-contained page in which message values are text, never markup."""

import base64
import hashlib
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from diag.report import render

ROOT = Path(__file__).resolve().parent.parent


def load_sample(name: str) -> dict:
    return json.loads((ROOT / "samples" / "reports" / name).read_text(encoding="utf-8"))


def render_html(report: dict) -> str:
    stream = io.StringIO()
    render(report, "html", stream)
    return stream.getvalue()


class ElementCollector(HTMLParser):
    """Collects every start tag with its attributes, and the text of <style> and <script>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.inline: dict[str, list[str]] = {"style": [], "script": []}
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag in self.inline:
            self._open = tag
            self.inline[tag].append("")

    def handle_endtag(self, tag):
        if tag == self._open:
            self._open = None

    def handle_data(self, data):
        if self._open:
            self.inline[self._open][-1] += data


def parse(html: str) -> ElementCollector:
    collector = ElementCollector()
    collector.feed(html)
    return collector


def csp_of(collector: ElementCollector) -> str:
    for tag, attrs in collector.elements:
        if tag == "meta" and attrs.get("http-equiv", "").lower() == "content-security-policy":
            return attrs["content"]
    raise AssertionError("no Content-Security-Policy meta element")


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def test_html_hostile_values_are_text():
    html = render_html(load_sample("hostile-headers.json"))
    assert "<script>alert" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html


def test_html_only_own_elements():
    collector = parse(render_html(load_sample("hostile-headers.json")))
    tags = {tag for tag, _attrs in collector.elements}
    assert "img" not in tags
    assert len(collector.inline["script"]) == 1
    assert not any(name.startswith("on") for _tag, attrs in collector.elements for name in attrs)


def test_html_csp_blocks_loads():
    policy = csp_of(parse(render_html(load_sample("ses-default-microsoft.json"))))
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "unsafe-inline" not in policy


def test_html_csp_hashes_match_inline_code():
    collector = parse(render_html(load_sample("ses-default-microsoft.json")))
    policy = csp_of(collector)
    assert f"style-src {sha256_source(collector.inline['style'][0])}" in policy
    assert f"script-src {sha256_source(collector.inline['script'][0])}" in policy


def test_html_no_external_resources():
    collector = parse(render_html(load_sample("ses-default-microsoft.json")))
    for tag, attrs in collector.elements:
        assert "src" not in attrs, tag
        if tag == "link":
            raise AssertionError(f"external stylesheet or icon: {attrs}")
    assert "@import" not in collector.inline["style"][0]
    assert "url(" not in collector.inline["style"][0]


def test_html_links_only_to_web_urls():
    collector = parse(render_html(load_sample("hostile-headers.json")))
    hrefs = [attrs["href"] for tag, attrs in collector.elements if tag == "a"]
    assert hrefs
    assert all(href.startswith("https://") for href in hrefs)


def test_html_sections_present():
    html = render_html(load_sample("ses-default-microsoft.json"))
    assert "Trusted Authentication-Results from <strong>Microsoft 365</strong>" in html
    assert "<td>compauth</td>" in html
    assert "reason 001 (fail): Implicit authentication failure" in html
    assert "<td>Microsoft CAT</td>" in html
    assert html.count('<article class="finding') == 3
    assert "<summary>Checked and passed (2)</summary>" in html
    assert "<summary>Could not check, a lookup failed temporarily; retry later (1)</summary>" in html
    assert "<summary>1 other check did not apply: the message has none of the facts they judge.</summary>" in html
    assert "<h2>What to change first</h2>" in html
    assert "<summary>Input repairs (1)</summary>" in html
    assert "Input errors (1)" in html


def test_html_finding_has_fix_steps():
    html = render_html(load_sample("ses-default-microsoft.json"))
    fix = re.search(r'<ol class="fix">(.*?)</ol>', html, re.S)
    assert fix is not None
    assert fix.group(1).count("<li>") == 2


def test_html_dns_report():
    html = render_html(load_sample("dns-domain.json"))
    assert "<h2>example.com</h2>" in html
    assert "Trusted Authentication-Results" not in html
    assert html.count('<article class="finding') == 2
