"""`maildiag ses config`: reading TOML, JSON and the environment, offline checks, and checks against moto.

Stubbed: iam SimulatePrincipalPolicy (moto raises NotImplementedError) and sts
GetCallerIdentity where a test needs AWS to reject the key pair (moto accepts any key).
"""

import json
from pathlib import Path

from click.testing import CliRunner

from diag.cli import cli
from diag.ses import config
from tests.fixtures.moto import moto_client

ROOT = Path(__file__).resolve().parent.parent
GOOD_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def write_settings(tmp_path, region="us-east-1", configuration_set="app", from_address="alerts@example.com", secret=GOOD_SECRET):
    path = tmp_path / "app.toml"
    path.write_text(
        f'FromAddress = "{from_address}"\nRegion = "{region}"\nAccessKeyId = "AKIAIOSFODNN7EXAMPLE"\n'
        f'SecretAccessKey = "{secret}"\nConfigurationSet = "{configuration_set}"\n', encoding="utf-8")
    return str(path)


def run_config(*args):
    result = CliRunner().invoke(cli, ["ses", "config", *args, "-f", "json"], catch_exceptions=False)
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result, report


def finding_names(report):
    return {finding["name"] for finding in report["messages"][0]["findings"]}


def outcome_of(report, name):
    return next(outcome for outcome in report["messages"][0]["outcomes"] if outcome["name"] == name)


def problems(report):
    return {problem["field"]: problem["problem"] for problem in report["messages"][0]["ses"]["config"]["problems"]}


def test_load_toml_table():
    settings = config.load_file(str(ROOT / "samples/ses/app-good.toml"))
    assert settings.get("FromAddress") == "Example Alerts <alerts@example.com>"
    assert settings.get("ConfigurationSet") == "app-events"


def test_load_json_snake_case():
    settings = config.load_file(str(ROOT / "samples/ses/app-incomplete.json"))
    assert settings.get("Region") == "eu-west-9"
    assert settings.get("ConfigurationSet") is None


def test_load_environment_names():
    settings = config.load_environment({"SES_FROM_ADDRESS": "a@example.com", "AWS_REGION": "eu-west-1", "SES_REGION": "us-west-2",
                                        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": GOOD_SECRET})
    assert settings.get("Region") == "us-west-2"
    assert settings.get("SecretAccessKey") == GOOD_SECRET
    assert settings.get("ConfigurationSet") is None


def test_invalid_toml_error(tmp_path, aws_env):
    path = tmp_path / "bad.toml"
    path.write_text("FromAddress = \n", encoding="utf-8")
    result, _ = run_config(str(path))
    assert result.exit_code == 2
    assert "invalid TOML" in result.stderr


def test_offline_problems_name_fields(aws_env):
    result, report = run_config(str(ROOT / "samples/ses/app-incomplete.json"), "--offline")
    found = problems(report)
    assert set(found) == {"FromAddress", "Region", "SecretAccessKey"}
    assert "eu-west-9" in found["Region"]
    assert result.exit_code == 1


def test_offline_region_close_matches(aws_env):
    _, report = run_config(str(ROOT / "samples/ses/app-incomplete.json"), "--offline")
    fix = {problem["field"]: problem["fix"] for problem in report["messages"][0]["ses"]["config"]["problems"]}["Region"]
    assert "did you mean eu-west-3 or eu-west-2 or eu-west-1?" in fix
    assert "af-south-1" not in fix


def test_from_address_display_name():
    address, problem = config.parse_from_address("Example Alerts <alerts@example.com>")
    assert address == "alerts@example.com"
    assert problem is None


def test_from_address_two_addresses():
    _, problem = config.parse_from_address("a@example.com, b@example.com")
    assert "exactly one" in problem


def test_temporary_key_rejected(tmp_path, aws_env):
    path = Path(write_settings(tmp_path))
    path.write_text(path.read_text().replace("AKIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPLE"))
    _, report = run_config(str(path), "--offline")
    assert "session token" in problems(report)["AccessKeyId"]


def test_env_mode(aws_env, monkeypatch):
    monkeypatch.setenv("SES_FROM_ADDRESS", "alerts@example.com")
    monkeypatch.setenv("SES_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", GOOD_SECRET)
    result, report = run_config("--env", "--offline")
    assert problems(report) == {}
    assert "ses-config-no-configuration-set" in finding_names(report)
    assert report["messages"][0]["source"]["path"] == "ses-config:environment"


def test_file_and_env_together(tmp_path, aws_env):
    result, _ = run_config(write_settings(tmp_path), "--env")
    assert result.exit_code == 2


def test_online_good(tmp_path, moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    moto_client(moto_url, "sesv2").create_configuration_set(ConfigurationSetName="app")
    stub_calls("iam", "SimulatePrincipalPolicy", {"EvaluationResults": [
        {"EvalActionName": "ses:SendEmail", "EvalDecision": "allowed"},
        {"EvalActionName": "ses:SendRawEmail", "EvalDecision": "allowed"},
        {"EvalActionName": "ses:CreateEmailIdentity", "EvalDecision": "implicitDeny"},
    ]})
    result, report = run_config(write_settings(tmp_path), "--endpoint-url", moto_url)
    facts = report["messages"][0]["ses"]["config"]
    assert facts["credentials"]["result"] == "pass"
    assert facts["identity"]["name"] == "example.com"
    assert facts["configuration_set_exists"] is True
    assert facts["permissions"]["extra_allowed"] == []
    assert result.exit_code == 0


def test_online_unverified_identity(tmp_path, moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_configuration_set(ConfigurationSetName="app")
    stub_calls("iam", "SimulatePrincipalPolicy", error="AccessDenied", http_status=403)
    result, report = run_config(write_settings(tmp_path), "--endpoint-url", moto_url)
    names = {finding["name"] for finding in report["messages"][0]["findings"]}
    assert "ses-identity-unverified" in names
    assert report["messages"][0]["ses"]["config"]["permissions"]["status"] == "unknown"
    assert result.exit_code == 1


def test_online_missing_configuration_set(tmp_path, moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    stub_calls("iam", "SimulatePrincipalPolicy", error="AccessDenied", http_status=403)
    _, report = run_config(write_settings(tmp_path, configuration_set="absent"), "--endpoint-url", moto_url)
    assert "does not exist in us-east-1" in problems(report)["ConfigurationSet"]


def test_online_broad_key(tmp_path, moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    moto_client(moto_url, "sesv2").create_configuration_set(ConfigurationSetName="app")
    stub_calls("iam", "SimulatePrincipalPolicy", {"EvaluationResults": [
        {"EvalActionName": "ses:SendEmail", "EvalDecision": "allowed"},
        {"EvalActionName": "ses:SendRawEmail", "EvalDecision": "allowed"},
        {"EvalActionName": "iam:CreateAccessKey", "EvalDecision": "allowed"},
    ]})
    result, report = run_config(write_settings(tmp_path), "--endpoint-url", moto_url, "--fail-on", "warning")
    names = {finding["name"] for finding in report["messages"][0]["findings"]}
    assert "ses-key-too-broad" in names
    assert result.exit_code == 1


def test_online_rejected_key(tmp_path, moto_url, stub_calls):
    stub_calls("sts", "GetCallerIdentity", error="InvalidClientTokenId", http_status=403)
    _, report = run_config(write_settings(tmp_path), "--endpoint-url", moto_url)
    assert "InvalidClientTokenId" in problems(report)["AccessKeyId"]


def test_region_mismatch_with_message(tmp_path, moto_url, stub_calls):
    moto_client(moto_url, "sesv2", region="eu-west-1").create_email_identity(EmailIdentity="example.com")
    moto_client(moto_url, "sesv2", region="eu-west-1").create_configuration_set(ConfigurationSetName="app")
    stub_calls("iam", "SimulatePrincipalPolicy", error="AccessDenied", http_status=403)
    message = tmp_path / "received.eml"
    message.write_text(
        "From: alerts@example.com\r\nTo: user@example.net\r\nSubject: hi\r\n"
        "Message-ID: <0100018c-abcd@email.amazonses.com>\r\n"
        "Feedback-ID: 1.us-east-1.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg=:AmazonSES\r\n\r\nbody\r\n")
    _, report = run_config(write_settings(tmp_path, region="eu-west-1"), "--endpoint-url", moto_url, "--message", str(message))
    ses = report["messages"][0]["ses"]
    assert ses["region_check"] == {"configured": "eu-west-1", "message": "us-east-1", "matches": False}
    assert "ses-region-mismatch" in {finding["name"] for finding in report["messages"][0]["findings"]}


def test_online_simulate_html_500(tmp_path, moto_url):
    # moto returns an HTML 500 page for iam:SimulatePrincipalPolicy, which botocore cannot parse.
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    moto_client(moto_url, "sesv2").create_configuration_set(ConfigurationSetName="app")
    result, report = run_config(write_settings(tmp_path), "--endpoint-url", moto_url)
    facts = report["messages"][0]["ses"]["config"]
    assert facts["permissions"]["status"] == "unknown"
    assert facts["permissions"]["lookup"] == "temperror"
    assert facts["identity"]["verified"] is True
    assert outcome_of(report, "ses-key-too-broad")["outcome"] == "error"
    assert result.exit_code == 3


def test_endpoint_not_url(tmp_path, aws_env):
    result, _ = run_config(write_settings(tmp_path), "--endpoint-url", "not a url")
    assert result.exit_code == 2
    assert "--endpoint-url 'not a url'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_online_subdomain_sender(tmp_path, moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    moto_client(moto_url, "sesv2").create_configuration_set(ConfigurationSetName="app")
    stub_calls("iam", "SimulatePrincipalPolicy", error="AccessDenied", http_status=403)
    result, report = run_config(write_settings(tmp_path, from_address="invoices@billing.example.com"), "--endpoint-url", moto_url)
    identity = report["messages"][0]["ses"]["config"]["identity"]
    assert identity["verified"] is True
    assert identity["name"] == "example.com"
    assert "ses-identity-unverified" not in finding_names(report)
    assert result.exit_code == 0


def test_identity_candidates_stop_at_org_domain():
    from diag.ses.identities import identity_candidates

    assert identity_candidates("a@x.billing.example.co.uk") == [
        "a@x.billing.example.co.uk", "x.billing.example.co.uk", "billing.example.co.uk", "example.co.uk",
    ]


def test_missing_set_still_checks_identity(tmp_path, moto_url, stub_calls):
    # No identity in moto: the unverified From must be found although ConfigurationSet is empty.
    stub_calls("iam", "SimulatePrincipalPolicy", error="AccessDenied", http_status=403)
    result, report = run_config(write_settings(tmp_path, configuration_set=""), "--endpoint-url", moto_url)
    names = finding_names(report)
    assert "ses-identity-unverified" in names
    assert "ses-config-incomplete" not in names
    assert result.exit_code == 1


def test_missing_set_warning(tmp_path, moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    stub_calls("iam", "SimulatePrincipalPolicy", error="AccessDenied", http_status=403)
    result, report = run_config(write_settings(tmp_path, configuration_set=""), "--endpoint-url", moto_url)
    finding = next(finding for finding in report["messages"][0]["findings"] if finding["name"] == "ses-config-no-configuration-set")
    assert finding["severity"] == "warning"
    assert "no configuration set, so no event publishing (bounces/complaints/deliveries) for this application's mail" in finding["message"]
    assert result.exit_code == 0


def test_unknown_set_is_error(tmp_path, moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    stub_calls("iam", "SimulatePrincipalPolicy", error="AccessDenied", http_status=403)
    result, report = run_config(write_settings(tmp_path, configuration_set="absent"), "--endpoint-url", moto_url)
    finding = next(finding for finding in report["messages"][0]["findings"] if finding["name"] == "ses-config-incomplete")
    assert finding["severity"] == "error"
    assert "ses-config-no-configuration-set" not in finding_names(report)
    assert result.exit_code == 1


def test_bad_region_skips_online(tmp_path, moto_url):
    result, report = run_config(write_settings(tmp_path, region="eu-west-9"), "--endpoint-url", moto_url)
    facts = report["messages"][0]["ses"]["config"]
    assert facts["online"] == "skipped: fix Region first"
    assert "credentials" not in facts


def test_read_only_not_too_broad(tmp_path, moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    moto_client(moto_url, "sesv2").create_configuration_set(ConfigurationSetName="app")
    stub_calls("iam", "SimulatePrincipalPolicy", {"EvaluationResults": [
        {"EvalActionName": "ses:SendEmail", "EvalDecision": "allowed"},
        {"EvalActionName": "ses:SendRawEmail", "EvalDecision": "allowed"},
        {"EvalActionName": "ses:GetAccount", "EvalDecision": "allowed"},
        {"EvalActionName": "ses:ListEmailIdentities", "EvalDecision": "allowed"},
    ]})
    _, report = run_config(write_settings(tmp_path), "--endpoint-url", moto_url, "--fail-on", "warning")
    permissions = report["messages"][0]["ses"]["config"]["permissions"]
    assert permissions["read_allowed"] == ["ses:GetAccount", "ses:ListEmailIdentities"]
    assert permissions["extra_allowed"] == []
    assert "ses-key-too-broad" not in finding_names(report)


def test_broad_key_names_effects(tmp_path, moto_url, stub_calls):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    moto_client(moto_url, "sesv2").create_configuration_set(ConfigurationSetName="app")
    stub_calls("iam", "SimulatePrincipalPolicy", {"EvaluationResults": [
        {"EvalActionName": "ses:SendEmail", "EvalDecision": "allowed"},
        {"EvalActionName": "ses:SendRawEmail", "EvalDecision": "allowed"},
        {"EvalActionName": "ses:CreateEmailIdentityPolicy", "EvalDecision": "allowed"},
        {"EvalActionName": "ses:GetAccount", "EvalDecision": "allowed"},
    ]})
    _, report = run_config(write_settings(tmp_path), "--endpoint-url", moto_url)
    message = next(finding for finding in report["messages"][0]["findings"] if finding["name"] == "ses-key-too-broad")["message"]
    assert "let other AWS accounts send as your identities (ses:CreateEmailIdentityPolicy)" in message
    assert "Lower concern: it may also read ses:GetAccount" in message
