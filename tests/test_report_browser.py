"""HTML report in headless Chromium: hostile header values render as text and nothing loads."""

import io
import json
from pathlib import Path

import pytest

from tests.fixtures.browser import open_watched

from diag.report import render

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.browser

# A Microsoft 365 header block written for this test. The display name, the subject and a
# comment inside Authentication-Results carry markup.
HOSTILE_HEADERS = (
    "Authentication-Results: spf=pass (sender IP is 192.0.2.10)\r\n"
    " smtp.mailfrom=us-east-1.amazonses.com; dkim=pass (<script>alert(1)</script>)\r\n"
    " header.d=amazonses.com;dmarc=fail action=none\r\n"
    " header.from=example.com;compauth=fail reason=001\r\n"
    "X-Forefront-Antispam-Report: CIP:192.0.2.10;CTRY:US;LANG:en;SCL:5;SRV:;IPV:NLI;\r\n"
    " SFV:SPM;H:a1-2.smtp-out.us-east-1.amazonses.com;PTR:a1-2.smtp-out.us-east-1.amazonses.com;\r\n"
    " CAT:SPOOF;SFS:;DIR:INB;\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; q=dns/txt; c=relaxed/simple;\r\n"
    " s=abcdefghijklmnop; d=amazonses.com; t=1793704444;\r\n"
    " h=From:To:Subject:Date; bh=Zm9vYmFy; b=QmFy\r\n"
    'From: "\\"><img src=x onerror=alert(1)>" <news@example.com>\r\n'
    "To: someone@example.net\r\n"
    "Subject: <script>alert(2)</script>\r\n"
    "Message-ID: <0100018c-aaaa@email.amazonses.com>\r\n"
    "Date: Tue, 3 Nov 2026 09:14:04 +0000\r\n"
    "\r\n"
)


def pipeline_report(source: Path) -> dict:
    from diag.engine.loader import load_rules
    from diag.pipeline import AnalyzeOptions, analyze_bytes, build_report

    options = AnalyzeOptions(rules=load_rules([]))
    message = analyze_bytes(source.read_bytes(), source=str(source), options=options)
    return build_report("analyze", [message], [])


def write_html(report: dict, path: Path) -> Path:
    stream = io.StringIO()
    render(report, "html", stream)
    path.write_text(stream.getvalue(), encoding="utf-8")
    return path


def assert_inert(page, path: Path, seen: dict) -> None:
    assert seen["console"] == []
    assert seen["page_errors"] == []
    assert seen["dialogs"] == []
    assert seen["requests"] == [path.as_uri()]
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1


def test_browser_sample_report_inert(chromium_page, tmp_path):
    report = json.loads((ROOT / "samples" / "reports" / "hostile-headers.json").read_text(encoding="utf-8"))
    path = write_html(report, tmp_path / "report.html")

    seen = open_watched(chromium_page, path)

    assert_inert(chromium_page, path, seen)
    assert chromium_page.locator("article.finding").count() == 3
    assert "<script>alert(1)</script>" in chromium_page.locator("article.finding").first.inner_text()


def test_browser_pipeline_report_inert(chromium_page, tmp_path):
    source = tmp_path / "hostile.txt"
    source.write_bytes(HOSTILE_HEADERS.encode("utf-8"))
    path = write_html(pipeline_report(source), tmp_path / "report.html")

    seen = open_watched(chromium_page, path)

    assert_inert(chromium_page, path, seen)
    assert chromium_page.locator("article.finding").count() >= 1
    assert "dkim-only-esp-signature" in chromium_page.locator("main").inner_text()
    assert "<script>alert(1)</script>" in chromium_page.locator(".trusted pre").first.inner_text()


def test_browser_filter_hides_severity(chromium_page, tmp_path):
    report = json.loads((ROOT / "samples" / "reports" / "ses-default-microsoft.json").read_text(encoding="utf-8"))
    path = write_html(report, tmp_path / "report.html")
    open_watched(chromium_page, path)

    assert chromium_page.locator("#filters").is_visible()
    chromium_page.locator("input[data-severity='error']").uncheck()

    assert chromium_page.locator("article.finding[data-severity='error']").first.is_hidden()
    assert chromium_page.locator("article.finding[data-severity='warning']").first.is_visible()


def test_browser_demo_summary_and_groups(chromium_page, tmp_path):
    path = write_html(pipeline_report(ROOT / "samples" / "headers" / "ses-to-m365-spoof.txt"), tmp_path / "report.html")

    seen = open_watched(chromium_page, path)

    assert_inert(chromium_page, path, seen)
    steps = chromium_page.locator(".changes li")
    assert steps.count() == 2
    assert steps.first.inner_text().startswith("dkim-only-esp-signature: In the SES console")
    groups = chromium_page.locator("details.skipped")
    assert groups.first.locator("summary").is_visible()
    assert groups.first.locator("li").first.is_hidden()
    groups.first.locator("summary").click()
    assert groups.first.locator("li").first.is_visible()


def test_browser_demo_fix_code_elements(chromium_page, tmp_path):
    path = write_html(pipeline_report(ROOT / "samples" / "headers" / "ses-to-m365-spoof.txt"), tmp_path / "report.html")
    open_watched(chromium_page, path)

    codes = chromium_page.locator("article.finding").first.locator(".fix code").all_inner_texts()
    assert "<token>._domainkey.example.com CNAME <token>.dkim.amazonses.com" in codes
    assert "`" not in chromium_page.locator(".fix").first.inner_text()


def test_browser_follows_from_links_resolve(chromium_page, tmp_path):
    path = write_html(pipeline_report(ROOT / "samples" / "headers" / "ses-to-m365-spoof.txt"), tmp_path / "report.html")
    open_watched(chromium_page, path)

    hrefs = chromium_page.locator(".links a").evaluate_all("links => links.map(link => link.getAttribute('href'))")
    assert hrefs
    for href in hrefs:
        assert chromium_page.locator(f"article{href}").count() == 1, href
