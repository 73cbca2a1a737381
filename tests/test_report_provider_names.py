"""Verdict rows name sending services by their display name, not their table key."""

from diag.report.view import verdict_rows


def test_dkim_row_names_provider():
    entry = {"verdicts": {"dkim": [{"domain": "amazonses.com", "result": "pass", "aligned": False, "esp": "amazonses"}]}}
    detail = verdict_rows(entry)[0].detail
    assert "sending service Amazon SES" in detail
    assert "amazonses," not in detail


def test_dkim_row_keeps_unknown_key():
    entry = {"verdicts": {"dkim": [{"domain": "mail.example.net", "result": "pass", "aligned": False, "esp": "examplesend"}]}}
    assert "sending service examplesend" in verdict_rows(entry)[0].detail
