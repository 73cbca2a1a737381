"""`maildiag ses check` against moto on loopback, with Stubber for the calls moto 5.2 lacks.

Stubbed here: sesv2 GetAccount and GetConfigurationSetEventDestinations (moto returns 404),
and GetEmailIdentity where a test needs PENDING or MAIL FROM states that moto never reports.
"""

import datetime
import json

import pytest
from click.testing import CliRunner

from diag.cli import cli
from tests.fixtures.moto import moto_client

REGION = "us-east-1"
HEALTHY_ACCOUNT = {
    "ProductionAccessEnabled": True, "SendingEnabled": True, "EnforcementStatus": "HEALTHY",
    "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 10.0},
    "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
}


def run(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def check_json(url, *extra):
    result = run("ses", "check", "--region", REGION, "--endpoint-url", url, "-f", "json", *extra)
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result, report


def findings(report):
    return {finding["name"]: finding for finding in report["messages"][0]["findings"]}


def test_check_source_path(moto_url, stub_calls):
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    _, report = check_json(moto_url)
    assert report["messages"][0]["source"]["path"] == "ses:us-east-1"


def test_check_sandbox_finding(moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="sender@example.org")
    stub_calls("sesv2", "GetAccount", {**HEALTHY_ACCOUNT, "ProductionAccessEnabled": False})
    result, report = check_json(moto_url, "--fail-on", "warning")
    assert "ses-sandbox" in findings(report)
    assert result.exit_code == 1


def test_check_identity_facts(moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    _, report = check_json(moto_url)
    identity = report["messages"][0]["ses"]["identities"][0]
    assert identity["name"] == "example.com"
    assert identity["type"] == "DOMAIN"
    assert identity["verification_status"] == "SUCCESS"
    assert identity["dkim"]["next_key_bits"] == 1024


def test_check_feedback_forwarding(moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    moto_client(moto_url, "ses").set_identity_feedback_forwarding_enabled(Identity="example.com", ForwardingEnabled=False)
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    _, report = check_json(moto_url)
    notifications = report["messages"][0]["ses"]["identities"][0]["notifications"]
    assert notifications["forwarding_enabled"] is False


def test_check_notification_topics(moto_url, stub_calls):
    # moto stores the topics but leaves them out of GetIdentityNotificationAttributes.
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    bounces = "arn:aws:sns:us-east-1:123456789012:ses-bounces"
    complaints = "arn:aws:sns:us-east-1:123456789012:ses-complaints"
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    stub_calls("ses", "GetIdentityNotificationAttributes", {"NotificationAttributes": {"example.com": {
        "BounceTopic": bounces, "ComplaintTopic": complaints, "DeliveryTopic": "", "ForwardingEnabled": False,
    }}}, expected_params={"Identities": ["example.com"]})
    _, report = check_json(moto_url)
    ses = report["messages"][0]["ses"]
    assert ses["identities"][0]["notifications"]["bounce_topic"] == bounces
    assert ses["bounce_handling"]["automated"] is True
    assert "ses-feedback-not-automated" not in findings(report)


def test_check_pending_dkim_records(moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.net")
    tokens = ["tok1abcdefghijklmnopqrstuvwxyz23", "tok2abcdefghijklmnopqrstuvwxyz23", "tok3abcdefghijklmnopqrstuvwxyz23"]
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    stub_calls("sesv2", "GetEmailIdentity", {
        "IdentityType": "DOMAIN", "VerificationStatus": "PENDING", "VerifiedForSendingStatus": False,
        "DkimAttributes": {"SigningEnabled": True, "Status": "PENDING", "Tokens": tokens, "SigningAttributesOrigin": "AWS_SES",
                           "CurrentSigningKeyLength": "RSA_2048_BIT", "NextSigningKeyLength": "RSA_2048_BIT"},
        "MailFromAttributes": {"MailFromDomain": "bounce.example.net", "MailFromDomainStatus": "PENDING", "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
    }, expected_params={"EmailIdentity": "example.net"})
    _, report = check_json(moto_url)
    found = findings(report)
    fix = " ".join(found["ses-identity-dkim-not-verified"]["fix"])
    assert f"`{tokens[0]}._domainkey.example.net CNAME {tokens[0]}.dkim.amazonses.com`" in fix
    assert "ses-identity-unverified" in found
    assert "feedback-smtp.us-east-1.amazonses.com" in " ".join(found["ses-mail-from-not-verified"]["fix"])


def test_check_event_destinations(moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_configuration_set(ConfigurationSetName="app")
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    stub_calls("sesv2", "GetConfigurationSetEventDestinations", {"EventDestinations": [{
        "Name": "feedback", "Enabled": True, "MatchingEventTypes": ["BOUNCE", "COMPLAINT"],
        "SnsDestination": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:feedback"},
    }]}, expected_params={"ConfigurationSetName": "app"})
    _, report = check_json(moto_url)
    configuration_set = report["messages"][0]["ses"]["configuration_sets"][0]
    assert configuration_set["handles_bounces"] is True
    assert configuration_set["event_destinations"][0]["kind"] == "sns"


def test_check_reputation_from_cloudwatch(moto_url, stub_calls):
    cloudwatch = moto_client(moto_url, "cloudwatch")
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=30)
    cloudwatch.put_metric_data(Namespace="AWS/SES", MetricData=[
        {"MetricName": "Reputation.BounceRate", "Value": 0.07, "Timestamp": now},
        {"MetricName": "Reputation.ComplaintRate", "Value": 0.0002, "Timestamp": now},
    ])
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    _, report = check_json(moto_url)
    reputation = report["messages"][0]["ses"]["reputation"]
    assert reputation["bounce_rate"] == pytest.approx(0.07)
    assert "ses-reputation" in findings(report)


def test_check_reputation_unknown(moto_url, stub_calls):
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    _, report = check_json(moto_url)
    assert report["messages"][0]["ses"]["reputation"]["status"] == "unknown"


def outcomes(report):
    return {outcome["name"]: outcome for outcome in report["messages"][0]["outcomes"]}


def test_check_moto_get_account_404(moto_url):
    # Without a stub, moto's 404 for GetAccount is recorded and the rest still runs.
    result, report = check_json(moto_url)
    assert report["messages"][0]["ses"]["lookups"]["get_account"] == "error"
    assert result.exit_code == 3


def test_check_sandbox_error_without_account(moto_url):
    # GetAccount failed, so the sandbox state is unknown: error, not not_applicable.
    _, report = check_json(moto_url)
    sandbox = outcomes(report)["ses-sandbox"]
    assert sandbox["outcome"] == "error"
    assert "ses.lookups.get_account" in sandbox["detail"]


def test_check_raw_403_denied(moto_url, moto_iam_user):
    # A user with no policy: moto returns an XML 403 to the JSON API, which botocore cannot read.
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    moto_iam_user()
    result, report = check_json(moto_url)
    lookups = report["messages"][0]["ses"]["lookups"]
    assert lookups["list_email_identities"] == "denied"
    assert lookups["list_configuration_sets"] == "denied"
    assert lookups["cloudwatch_reputation"] == "denied"
    assert result.exit_code == 3


def test_check_denied_rules_error(moto_url, moto_iam_user):
    moto_iam_user()
    _, report = check_json(moto_url)
    found = outcomes(report)
    for name in ("ses-sandbox", "ses-identity-unverified", "ses-identity-dkim-not-verified", "ses-feedback-not-automated"):
        assert found[name]["outcome"] == "error", name


def test_check_denied_lists_actions(moto_url, moto_iam_user):
    moto_iam_user()
    _, report = check_json(moto_url)
    fix = " ".join(findings(report)["ses-lookups-failed"]["fix"])
    assert "ses:ListEmailIdentities" in fix
    assert "cloudwatch:GetMetricData" in fix


def test_check_denied_terminal_report(moto_url, moto_iam_user):
    moto_iam_user()
    result = run("ses", "check", "--region", REGION, "--endpoint-url", moto_url)
    assert "No findings" not in result.stdout
    assert "Could not check, an AWS call was denied or failed" in result.stdout
    assert "ListEmailIdentities denied" in result.stdout


def test_check_terminal_no_message_wording(moto_url, stub_calls):
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    result = run("ses", "check", "--region", REGION, "--endpoint-url", moto_url)
    assert "in 1 SES region" in result.stdout
    assert "message" not in result.stdout.splitlines()[0]
    assert "Authentication-Results" not in result.stdout


def test_check_event_destinations_failed(moto_url, stub_calls):
    # moto returns 404 for GetConfigurationSetEventDestinations, so bounce handling is unknown.
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    moto_client(moto_url, "sesv2").create_configuration_set(ConfigurationSetName="app")
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    _, report = check_json(moto_url)
    assert outcomes(report)["ses-feedback-not-automated"]["outcome"] == "error"
    assert "ses-feedback-not-automated" not in findings(report)


def test_check_dkim_not_started_fix(moto_url, stub_calls):
    # moto creates domain identities with DKIM NOT_STARTED and no tokens.
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    _, report = check_json(moto_url)
    fix = " ".join(findings(report)["ses-identity-dkim-not-verified"]["fix"])
    assert "put-email-identity-dkim-signing-attributes --email-identity example.com --signing-attributes-origin AWS_SES" in fix
    assert "--signing-enabled --region" not in fix


def test_check_no_identities(moto_url, stub_calls):
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    _, report = check_json(moto_url)
    finding = findings(report)["ses-no-identities"]
    assert finding["severity"] == "info"
    assert "no identities in us-east-1" in finding["message"]


def test_check_endpoint_not_url(aws_env):
    result = run("ses", "check", "--region", REGION, "--endpoint-url", "not a url")
    assert result.exit_code == 2
    assert "--endpoint-url 'not a url'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_get_account_denied(moto_url, stub_calls):
    stub_calls("sesv2", "GetAccount", error="AccessDeniedException", http_status=403)
    _, report = check_json(moto_url)
    assert report["messages"][0]["ses"]["lookups"]["get_account"] == "denied"


def test_check_all_denied(moto_url, stub_calls):
    for operation in ("GetAccount", "ListEmailIdentities", "ListConfigurationSets"):
        stub_calls("sesv2", operation, error="AccessDeniedException", http_status=403)
    result, _ = check_json(moto_url)
    assert result.exit_code == 2
    assert "access denied" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_throttled_exit_3(moto_url, stub_calls):
    # Stubber bypasses botocore's retries, so one ThrottlingException stands for the last retry.
    stub_calls("sesv2", "GetAccount", error="ThrottlingException", http_status=400)
    result, report = check_json(moto_url)
    assert report["messages"][0]["ses"]["lookups"]["get_account"] == "temperror"
    assert result.exit_code == 3


def test_check_bad_credentials(moto_url, stub_calls):
    stub_calls("sesv2", "GetAccount", error="UnrecognizedClientException", http_status=403)
    result, _ = check_json(moto_url)
    assert result.exit_code == 2
    assert "rejected the credentials" in result.stderr


def test_check_unknown_region(aws_env):
    result = run("ses", "check", "--region", "eu-west-9")
    assert result.exit_code == 2
    assert "eu-west-9" in result.stderr
    assert "did you mean eu-west-3 or eu-west-2 or eu-west-1?" in result.stderr
    assert "get-parameters-by-path" in result.stderr
    assert "af-south-1" not in result.stderr


def test_check_no_region(aws_env):
    result = run("ses", "check")
    assert result.exit_code == 2
    assert "--region" in result.stderr


def test_check_no_credentials(aws_env, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = run("ses", "check", "--region", REGION)
    assert result.exit_code == 2
    assert "no AWS credentials found" in result.stderr


def test_check_unknown_profile(aws_env):
    result = run("ses", "check", "--region", REGION, "--profile", "missing")
    assert result.exit_code == 2
    assert "'missing' not found" in result.stderr


def test_check_profile_from_file(aws_env, moto_url, stub_calls, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    aws_env["credentials_file"].write_text("[mailer]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = profilesecretprofilesecretprofilesecret1\n")
    stub_calls("sesv2", "GetAccount", HEALTHY_ACCOUNT)
    result, report = check_json(moto_url, "--profile", "mailer")
    assert result.exit_code == 0
    assert report["messages"][0]["ses"]["region"] == REGION


def test_check_unreachable_endpoint(aws_env):
    # Port 9 (discard) on loopback has no listener here, so the connection is refused.
    result = run("ses", "check", "--region", REGION, "--endpoint-url", "http://127.0.0.1:9")
    assert result.exit_code == 3
    assert "cannot reach the endpoint" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_recorder_unreachable_recorded(aws_env):
    # Port 9 on loopback refuses connections: recorded as temperror instead of ending the run.
    from diag.ses import aws
    from diag.ses.lookup import Recorder

    recorder = Recorder(aws.open_context(REGION, endpoint_url="http://127.0.0.1:9"))
    assert recorder.call("iam", "ListUsers") is None
    assert recorder.outcomes["list_users"] == "temperror"
    assert recorder.call("iam", "GetUser") is None
    assert recorder.failures[-1]["message"] == "endpoint not reachable earlier in this run"
