"""Audit summary: pass rates, receivers, percentiles, grouping and the exit code."""

from diag import exitcodes
from diag.audit.headerfields import SUBJECT_MAX, header_fields
from diag.audit.outcomes import not_applicable_reason
from diag.audit.summary import NO_RECEIVER, SummaryBuilder, dkim_word, percentile, receiver_label, spf_aligned_word


def _record(**fields):
    record = {
        "path": "a.eml", "index": 0, "from_address": "a@example.com", "from_display_name": None,
        "from_domain": "example.com", "org_domain": "example.com", "receiver": "Microsoft 365",
        "spf": "pass", "spf_aligned": "pass", "dkim": "pass", "dmarc": "pass", "compauth": "pass", "reason": "100",
        "scl": 1, "bcl": 0, "cat": "NONE", "findings": [], "temperror": False, "delays": [],
        "date": None,
    }
    record.update(fields)
    return record


def _trusted(authserv_id, how="topmost"):
    return {"auth": {"trusted": {"authserv_id": authserv_id, "how": how}}}


def test_receiver_microsoft_without_id():
    assert receiver_label(_trusted(None, how="microsoft")) == "Microsoft 365"


def test_receiver_gmail():
    assert receiver_label(_trusted("mx.google.com")) == "Gmail (mx.google.com)"


def test_receiver_yahoo_host():
    label = receiver_label(_trusted("atlas-production.v2-mail-prod1-gq1.omega.yahoo.com"))

    assert label == "Yahoo (atlas-production.v2-mail-prod1-gq1.omega.yahoo.com)"


def test_receiver_suffix_needs_label_boundary():
    assert receiver_label(_trusted("notyahoo.com")) == "notyahoo.com"


def test_receiver_untrusted():
    assert receiver_label({"auth": {}}) == NO_RECEIVER


def test_dkim_word_aligned_pass():
    assert dkim_word({"dkim_aligned_pass": True, "dkim": [{}]}) == "pass"


def test_dkim_word_aligned_fail():
    assert dkim_word({"dkim_aligned_pass": False, "dkim_aligned_result": "fail", "dkim": [{}]}) == "fail"


def test_dkim_word_only_esp_signature():
    assert dkim_word({"dkim_aligned_pass": False, "dkim": [{"domain": "amazonses.com"}]}) == "not-aligned"


def test_dkim_word_no_clause():
    assert dkim_word({"dkim": []}) is None


def test_percentile_nearest_rank():
    values = list(range(1, 101))

    assert percentile(values, 50) == 50
    assert percentile(values, 90) == 90
    assert percentile(values, 99) == 99
    assert percentile([7.0], 99) == 7.0


def test_pass_rate_counts_known_only():
    builder = SummaryBuilder()
    builder.add(_record(compauth=None))
    builder.add(_record(spf="softfail", compauth=None))

    checks = builder.summary()["checks"]

    assert checks["spf"] == {"pass": 1, "known": 2, "rate": 0.5, "results": {"pass": 1, "softfail": 1}}
    assert checks["compauth"]["rate"] is None


def test_groups_by_org_domain_and_receiver():
    builder = SummaryBuilder()
    builder.add(_record(findings=[["dmarc-fail", "error"]], dmarc="fail"))
    builder.add(_record(org_domain="example.org", receiver="Gmail (mx.google.com)"))
    builder.add(_record(org_domain=None, receiver="Gmail (mx.google.com)"))

    summary = builder.summary()

    domains = {group["name"]: group for group in summary["sender_domains"]}
    assert domains["example.com"]["checks"]["dmarc"]["rate"] == 0.0
    assert domains["example.com"]["top_findings"] == [{"name": "dmarc-fail", "count": 1}]
    assert "(no From domain)" in domains
    assert [group["name"] for group in summary["receivers"]] == ["Gmail (mx.google.com)", "Microsoft 365"]


def test_findings_by_frequency_ties_by_name():
    builder = SummaryBuilder()
    builder.add(_record(findings=[["spf-fail", "warning"], ["dmarc-fail", "error"]]))
    builder.add(_record(findings=[["spf-fail", "warning"]]))
    builder.add(_record(findings=[["arc-broken", "info"]]))

    names = [(item["name"], item["count"]) for item in builder.summary()["findings_by_name"]]

    assert names == [("spf-fail", 2), ("arc-broken", 1), ("dmarc-fail", 1)]


def test_hop_delays():
    builder = SummaryBuilder()
    builder.add(_record(delays=[1.0, 2.0, 4000.0]))
    builder.add(_record(delays=[-3.0]))

    delays = builder.summary()["hop_delays"]

    assert delays["hops"] == 4
    assert delays["p50"] == 1.0
    assert delays["max"] == 4000.0
    assert delays["histogram"][0] == {"le": 1, "count": 2}
    assert delays["histogram"][-1] == {"le": None, "count": 1}
    assert sum(bucket["count"] for bucket in delays["histogram"]) == 4


def test_exit_findings_before_input_errors():
    builder = SummaryBuilder("error")
    builder.add(_record(findings=[["dmarc-fail", "error"]]))
    builder.add_error()

    assert builder.exit_code() == exitcodes.FINDINGS


def test_exit_input_errors_before_temperror():
    builder = SummaryBuilder("error")
    builder.add(_record(findings=[["spf-fail", "warning"]], temperror=True))
    builder.add_error()

    assert builder.exit_code() == exitcodes.USAGE


def test_exit_temperror():
    builder = SummaryBuilder("error")
    builder.add(_record(temperror=True))

    assert builder.exit_code() == exitcodes.COULD_NOT_CHECK


def test_exit_fail_on_warning():
    builder = SummaryBuilder("warning")
    builder.add(_record(findings=[["spf-fail", "warning"]]))

    assert builder.exit_code() == exitcodes.FINDINGS


def test_spf_aligned_word_pass():
    assert spf_aligned_word({"spf": "pass", "spf_aligned": True}) == "pass"


def test_spf_aligned_word_esp_domain():
    assert spf_aligned_word({"spf": "pass", "spf_aligned": False}) == "not-aligned"


def test_spf_aligned_word_fail():
    assert spf_aligned_word({"spf": "softfail", "spf_aligned": True}) == "softfail"


def test_spf_aligned_word_unknown():
    assert spf_aligned_word({"spf": "pass"}) is None


def test_domain_counts_spf_raw_and_aligned():
    builder = SummaryBuilder()
    builder.add(_record(spf="pass", spf_aligned="not-aligned", dkim="not-aligned"))
    builder.add(_record(spf="pass", spf_aligned="pass", dkim="pass"))

    (domain,) = builder.summary()["sender_domains"]

    assert domain["checks"]["spf"]["rate"] == 1.0
    assert domain["checks"]["spf_aligned"]["rate"] == 0.5
    assert domain["checks"]["dkim"]["rate"] == 0.5


def test_period_compares_instants():
    builder = SummaryBuilder()
    builder.add(_record(date="2026-11-03T09:30:00+00:00"))
    builder.add(_record(date="2026-11-03T10:00:00+02:00"))
    builder.add(_record(date=None))

    period = builder.summary()["period"]

    assert period["first"] == "2026-11-03T10:00:00+02:00"
    assert period["last"] == "2026-11-03T09:30:00+00:00"
    assert period["dated"] == 2
    assert period["undated"] == 1


def test_period_without_dates():
    builder = SummaryBuilder()
    builder.add(_record())

    assert builder.summary()["period"] == {"dated": 0, "undated": 1}


def test_skipped_not_input_error():
    builder = SummaryBuilder()
    builder.add(_record())
    builder.add_skipped()

    assert builder.summary()["skipped"] == 1
    assert builder.exit_code() == exitcodes.OK


def test_header_fields_decoded_subject():
    fields = header_fields(b"Subject: =?utf-8?q?Rechnung_f=C3=BCr?=\r\n =?utf-8?q?_November?=\r\n\r\nbody")

    assert fields["subject"] == "Rechnung für November"


def test_header_fields_long_subject_cut():
    subject = " ".join(["invoice"] * 100)

    fields = header_fields(f"Subject: {subject}\n\n".encode())

    assert len(fields["subject"]) <= SUBJECT_MAX
    assert fields["subject"].endswith("invoice…")


def test_header_fields_subject_control_characters():
    fields = header_fields(b"Subject: =?utf-8?q?a=1Bb?=\n\n")

    assert fields["subject"] == "a\\x1bb"


def test_header_fields_date_without_zone():
    fields = header_fields(b"Date: Tue, 3 Nov 2026 10:00:00 -0000\n\n")

    assert fields["date"] == "2026-11-03T10:00:00+00:00"


def test_header_fields_invalid_date_kept():
    fields = header_fields(b"Date: last Tuesday\n\n")

    assert "date" not in fields
    assert fields["date_raw"] == "last Tuesday"


def test_header_fields_message_id_unfolded():
    fields = header_fields(b"Message-ID:\r\n <1@example.com>\r\n\r\nMessage-ID: <in-body@example.com>\r\n")

    assert fields["message_id"] == "<1@example.com>"


def test_header_fields_unknown_charset():
    fields = header_fields(b"Subject: =?x-unknown?q?abc?=\n\n")

    assert fields["subject"] == "=?x-unknown?q?abc?="


def test_reason_needs_sources():
    outcome = {"outcome": "not_applicable", "reason": "needs", "missing": ["dns", "ses"], "detail": "worded otherwise"}
    assert not_applicable_reason(outcome) == "needs dns, ses"


def test_reason_facts_absent():
    outcome = {"outcome": "not_applicable", "reason": "applies-false", "condition": "microsoft.scl is present"}
    assert not_applicable_reason(outcome) == "facts absent"


def test_reason_deferred():
    outcome = {"outcome": "not_applicable", "reason": "deferred", "deferred_to": "forwarded-auth-broken"}
    assert not_applicable_reason(outcome) == "deferred"


def test_reason_other():
    assert not_applicable_reason({"outcome": "not_applicable", "detail": "needs dns facts, which this input does not provide"}) == "other"
