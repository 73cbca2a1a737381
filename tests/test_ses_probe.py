"""`maildiag ses probe` through the API against moto, reading the sent message back.

Stubbed: sesv2 GetAccount (moto returns 404), and SendEmail where a test needs throttling.
"""

import email
import email.policy
import time

import botocore.exceptions
import pytest
from click.testing import CliRunner

from diag.cli import cli
from diag.errors import UsageError
from diag.ses import probe
from tests.fixtures.moto import moto_client, moto_sent_messages

PRODUCTION = {"ProductionAccessEnabled": True, "SendingEnabled": True, "EnforcementStatus": "HEALTHY",
              "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 0.0}}
SANDBOX = {**PRODUCTION, "ProductionAccessEnabled": False, "SendQuota": {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": 0.0}}


def run_probe(url, *args):
    return CliRunner().invoke(cli, ["ses", "probe", "--region", "us-east-1", "--endpoint-url", url, *args], catch_exceptions=False)


def test_resolve_simulator_label():
    recipient = probe.resolve_recipient("bounce+signup")
    assert recipient.address == "bounce+signup@simulator.amazonses.com"
    assert recipient.simulator is True


def test_resolve_plain_address():
    assert probe.resolve_recipient("user@example.net").simulator is False


def test_resolve_rejects_word():
    with pytest.raises(UsageError):
        probe.resolve_recipient("nobody")


def test_probe_sent_to_moto(moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="sender@example.org")
    stub_calls("sesv2", "GetAccount", SANDBOX)
    result = run_probe(moto_url, "--from", "sender@example.org", "--to", "success")
    assert result.exit_code == 0, result.stderr
    sent = moto_sent_messages(moto_url)
    assert len(sent) == 1
    parsed = email.message_from_string(sent[0]["raw_data"], policy=email.policy.default)
    token = parsed["X-Maildiag-Probe"]
    assert token.startswith("mdp-")
    assert token in parsed["Subject"]
    assert parsed.get_body(("plain",)) is not None
    assert parsed.get_body(("html",)) is not None
    assert sent[0]["destinations"][0] == "success@simulator.amazonses.com"
    assert f"sent probe {token}" in result.stdout
    assert "MessageId" in result.stdout


def test_probe_sandbox_refuses_unverified(moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="sender@example.org")
    stub_calls("sesv2", "GetAccount", SANDBOX)
    stub_calls("sesv2", "GetEmailIdentity", error="NotFoundException", http_status=404)
    stub_calls("sesv2", "GetEmailIdentity", error="NotFoundException", http_status=404)
    result = run_probe(moto_url, "--from", "sender@example.org", "--to", "user@example.net")
    assert result.exit_code == 2
    assert "success@simulator.amazonses.com" in result.stderr
    assert moto_sent_messages(moto_url) == []


def test_probe_quota_exhausted(moto_url, stub_calls):
    stub_calls("sesv2", "GetAccount", {**PRODUCTION, "SendQuota": {"Max24HourSend": 100.0, "MaxSendRate": 1.0, "SentLast24Hours": 100.0}})
    result = run_probe(moto_url, "--from", "sender@example.org", "--to", "user@example.net")
    assert result.exit_code == 2
    assert "24-hour quota" in result.stderr


def test_probe_unverified_sender(moto_url, stub_calls):
    stub_calls("sesv2", "GetAccount", PRODUCTION)
    result = run_probe(moto_url, "--from", "nobody@example.com", "--to", "success")
    assert result.exit_code == 2
    assert "SES rejected the probe" in result.stderr


def test_probe_unverified_sender_fix(moto_url, stub_calls):
    stub_calls("sesv2", "GetAccount", PRODUCTION)
    result = run_probe(moto_url, "--from", "nobody@example.com", "--to", "success")
    assert "From address nobody@example.com is not verified" in result.stderr
    assert "aws sesv2 create-email-identity --email-identity example.com --region us-east-1" in result.stderr


def test_probe_domain_from(moto_url):
    result = run_probe(moto_url, "--from", "example.com", "--to", "success")
    assert result.exit_code == 2
    assert "SES needs a full address" in result.stderr
    assert "noreply@example.com" in result.stderr


def test_probe_help_from_address():
    result = CliRunner().invoke(cli, ["ses", "probe", "--help"])
    help_text = " ".join(result.stdout.split())
    assert "address or domain" not in help_text
    assert "SES needs a full address to send" in help_text


def test_probe_simulator_note(moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="sender@example.org")
    stub_calls("sesv2", "GetAccount", PRODUCTION)
    result = run_probe(moto_url, "--from", "sender@example.org", "--to", "bounce")
    assert "feedback forwarding" in " ".join(result.stdout.split())


def test_probe_rate_one_per_second(moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="sender@example.org")
    # MaxSendRate 14 still gives one probe per second.
    stub_calls("sesv2", "GetAccount", PRODUCTION)
    started = time.monotonic()
    result = run_probe(moto_url, "--from", "sender@example.org", "--to", "success", "--to", "bounce", "--to", "ooto")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0
    assert len(moto_sent_messages(moto_url)) == 3
    assert elapsed >= 2.0


def test_backoff_retries_throttling(aws_env, stub_calls):
    from diag.ses import aws, sendapi

    stub_calls("sesv2", "GetAccount", PRODUCTION)
    stub_calls("sesv2", "SendEmail", error="TooManyRequestsException", http_status=429)
    stub_calls("sesv2", "SendEmail", error="TooManyRequestsException", http_status=429)
    stub_calls("sesv2", "SendEmail", {"MessageId": "0100018c-example"})
    waits = []
    context = aws.open_context("us-east-1", endpoint_url="http://127.0.0.1:9")
    results = sendapi.send(context, "sender@example.org", [probe.resolve_recipient("success")], sleep=waits.append)
    assert results[0]["message_id"] == "0100018c-example"
    assert len(waits) == 2
    assert 1.0 <= waits[0] <= 1.5
    assert 2.0 <= waits[1] <= 3.0


def test_backoff_bounded(aws_env, stub_calls):
    from diag.ses import aws, sendapi

    stub_calls("sesv2", "GetAccount", PRODUCTION)
    for _ in range(probe.MAX_ATTEMPTS):
        stub_calls("sesv2", "SendEmail", error="ThrottlingException", http_status=400)
    context = aws.open_context("us-east-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(Exception) as raised:
        sendapi.send(context, "sender@example.org", [probe.resolve_recipient("success")], sleep=lambda seconds: None)
    assert raised.value.exit_code == 3
    assert not isinstance(raised.value, botocore.exceptions.ClientError)
