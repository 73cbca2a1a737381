"""Audit HTML report in headless Chromium: summary and charts render, the filter works, nothing runs."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.browser import open_watched

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def audit_html(tmp_path_factory):
    path = tmp_path_factory.mktemp("audit") / "audit.html"
    subprocess.run([sys.executable, "-m", "diag", "audit", "samples/audit", "-f", "html", "-o", str(path), "--quiet", "--offline"],
                   cwd=ROOT, check=False, capture_output=True)
    return path


def test_audit_page_runs_nothing(chromium_page, audit_html):
    seen = open_watched(chromium_page, audit_html)

    assert seen["console"] == []
    assert seen["page_errors"] == []
    assert seen["dialogs"] == []
    assert seen["requests"] == [audit_html.as_uri()]
    assert chromium_page.locator("img").count() == 0
    assert chromium_page.locator("script").count() == 1


def test_audit_page_shows_markup_as_text(chromium_page, audit_html):
    open_watched(chromium_page, audit_html)

    row = chromium_page.locator("tr.message-row", has_text="attacker@example.net")
    assert row.count() == 1
    assert '"><img src=x onerror=alert(1)><script>alert(2)</script>' in row.inner_text()


def test_audit_page_summary(chromium_page, audit_html):
    open_watched(chromium_page, audit_html)

    assert chromium_page.locator("#rate-spf strong").inner_text() == "90.9 %"
    assert chromium_page.locator("#rate-compauth strong").inner_text() == "0.0 %"
    assert chromium_page.locator("#sender-domains tbody tr").count() == 3
    assert chromium_page.locator("#input-errors li").count() == 4


@pytest.mark.parametrize("chart", ["chart-pass-rates", "chart-findings", "chart-delays"])
def test_audit_chart_renders(chromium_page, audit_html, chart):
    open_watched(chromium_page, audit_html)

    svg = chromium_page.locator(f"svg#{chart}")
    assert svg.is_visible()
    box = svg.bounding_box()
    assert box["width"] > 200
    assert box["height"] > 40
    widths = [float(width) for width in svg.locator("rect[class^=bar-]").evaluate_all("bars => bars.map(bar => bar.getBBox().width)")]
    assert widths
    assert max(widths) > 0


def test_audit_filter_by_text(chromium_page, audit_html):
    open_watched(chromium_page, audit_html)

    chromium_page.fill("#filter-text", "yahoo")

    visible = chromium_page.locator("tr.message-row:visible")
    assert visible.count() == 2
    assert all("Yahoo" in text for text in visible.all_inner_texts())
    assert chromium_page.locator("#filter-count").inner_text() == "2 of 11 messages shown"


def test_audit_filter_cleared(chromium_page, audit_html):
    open_watched(chromium_page, audit_html)

    chromium_page.fill("#filter-text", "yahoo")
    chromium_page.fill("#filter-text", "")

    assert chromium_page.locator("tr.message-row:visible").count() == 11


def test_audit_filter_findings_only(chromium_page, tmp_path):
    path = tmp_path / "mixed.html"
    without_findings = ROOT / "samples" / "eml" / "clean-multipart-crlf.eml"
    junked = ROOT / "samples" / "audit" / "eml" / "ses-m365-0042.eml"
    subprocess.run([sys.executable, "-m", "diag", "audit", str(without_findings), str(junked), "-f", "html", "-o", str(path), "--quiet", "--offline"],
                   cwd=ROOT, check=False)
    open_watched(chromium_page, path)
    assert chromium_page.locator("tr.message-row:visible").count() == 2

    chromium_page.check("#filter-findings")

    visible = chromium_page.locator("tr.message-row:visible")
    assert visible.count() == 1
    assert "ses-m365-0042.eml" in visible.inner_text()


def test_audit_page_uses_width(chromium_page, audit_html):
    chromium_page.set_viewport_size({"width": 1400, "height": 1000})
    open_watched(chromium_page, audit_html)

    table = chromium_page.locator("table.messages").bounding_box()

    assert table["width"] > 1200
    assert chromium_page.evaluate("document.documentElement.scrollWidth") <= 1400


def test_audit_status_cells_one_line(chromium_page, audit_html):
    chromium_page.set_viewport_size({"width": 1400, "height": 1000})
    open_watched(chromium_page, audit_html)

    # One client rectangle per line box of the cell's text.
    lines = chromium_page.locator("table.messages td.status, table.groups td.rate").evaluate_all(
        "cells => cells.filter(cell => cell.textContent.trim()).map(cell => {"
        " const range = document.createRange(); range.selectNodeContents(cell); return range.getClientRects().length; })")

    assert lines
    assert set(lines) == {1}


def test_audit_errors_notice_on_top(chromium_page, audit_html):
    open_watched(chromium_page, audit_html)

    link = chromium_page.locator("#errors-notice a")

    assert link.get_attribute("href") == "#input-errors"
    assert link.inner_text() == "4 input errors"
    assert link.bounding_box()["y"] < chromium_page.locator("#summary").bounding_box()["y"]


def test_audit_error_names_path_once(chromium_page, audit_html):
    open_watched(chromium_page, audit_html)

    items = chromium_page.locator("#input-errors li").all_inner_texts()

    assert items
    for item in items:
        path = item.split(":")[0].split(" #")[0]
        assert item.count(path) == 1, item


def test_audit_mbox_rows_show_index(chromium_page, audit_html):
    open_watched(chromium_page, audit_html)

    sources = chromium_page.locator("tr.message-row td.source code:not(.message-id)").all_inner_texts()

    assert "samples/audit/invoices.mbox #0" in sources
    assert "samples/audit/invoices.mbox #2" in sources
