"""No secret reaches stdout, stderr or report files from any `maildiag ses` command, at -vv.

Each command runs as a real process against moto on loopback, so the logging set-up,
botocore's debug logging and the reporters are the ones users get.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from diag.ses.redact import MASK, RedactingFilter, redact, register_secret
from tests.fixtures.moto import CANARY_SECRET, moto_client

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ["terminal", "json", "html", "sarif", "junit", "markdown"]
# A canary of the 40-character shape, so the online checks run with it.
CANARY_40 = "CANARYsecretDoNotPrint/aaaaaaaaaaaaaaaaa"
SMTP_CANARY = "CANARYsmtpPasswordDoNotPrint"


def maildiag(*args):
    return subprocess.run([sys.executable, "-m", "diag", "-vv", *args], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ), timeout=120)


def assert_clean(done, *files):
    for secret in (CANARY_SECRET, CANARY_40, SMTP_CANARY, "CANARYsecret", "CANARYsmtp"):
        assert secret not in done.stdout
        assert secret not in done.stderr
        for path in files:
            assert secret not in Path(path).read_text(encoding="utf-8")


def settings_file(tmp_path, secret):
    path = tmp_path / "app.toml"
    path.write_text(f'FromAddress = "alerts@example.com"\nRegion = "us-east-1"\nAccessKeyId = "AKIAIOSFODNN7EXAMPLE"\n'
                    f'SecretAccessKey = "{secret}"\nConfigurationSet = "app"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_check_no_secret(moto_url, tmp_path, fmt):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    output = tmp_path / f"report.{fmt}"
    done = maildiag("ses", "check", "--region", "us-east-1", "--endpoint-url", moto_url, "-f", fmt, "-o", str(output))
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "DEBUG" in done.stderr
    assert_clean(done, output)


@pytest.mark.parametrize("fmt", FORMATS)
def test_config_file_no_secret(moto_url, tmp_path, fmt, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY_40)
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="example.com")
    done = maildiag("ses", "config", str(settings_file(tmp_path, CANARY_40)), "--endpoint-url", moto_url, "-f", fmt)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "GetCallerIdentity" in done.stderr
    assert_clean(done)


def test_config_invalid_secret_no_secret(aws_env, tmp_path):
    done = maildiag("ses", "config", str(settings_file(tmp_path, CANARY_SECRET)), "-f", "json")
    assert done.returncode == 1
    assert "SecretAccessKey" in done.stdout
    assert_clean(done)


def test_config_env_no_secret(aws_env, monkeypatch):
    monkeypatch.setenv("SES_FROM_ADDRESS", "alerts@example.com")
    monkeypatch.setenv("SES_REGION", "us-east-1")
    done = maildiag("ses", "config", "--env", "--offline", "-f", "markdown")
    assert done.returncode == 1
    assert_clean(done)


def test_probe_api_no_secret(moto_url):
    moto_client(moto_url, "sesv2").create_email_identity(EmailIdentity="sender@example.org")
    done = maildiag("ses", "probe", "--region", "us-east-1", "--endpoint-url", moto_url, "--from", "sender@example.org", "--to", "success")
    assert done.returncode == 0, done.stderr[-2000:]
    assert_clean(done)


def test_probe_error_no_secret(aws_env):
    done = maildiag("ses", "probe", "--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9", "--from", "sender@example.org", "--to", "success")
    assert done.returncode == 3
    assert_clean(done)


def test_probe_smtp_no_secret(aws_env, monkeypatch):
    monkeypatch.setenv("MAILDIAG_SMTP_PASSWORD", SMTP_CANARY)
    done = maildiag("ses", "probe", "--smtp", "--smtp-host", "127.0.0.1", "--smtp-port", "9", "--smtp-user", "AKIAIOSFODNN7EXAMPLE",
                    "--from", "sender@example.org", "--to", "success")
    assert done.returncode == 3
    assert_clean(done)


def test_redact_key_shape():
    assert redact("key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY;") == f"key={MASK};"


def test_redact_registered_value():
    register_secret("registered-secret-value")
    assert "registered-secret-value" not in redact("x registered-secret-value y")


def test_filter_rewrites_args():
    import logging

    register_secret(CANARY_SECRET)
    record = logging.LogRecord("botocore", logging.DEBUG, __file__, 1, "secret %s", (CANARY_SECRET,), None)
    RedactingFilter().filter(record)
    assert CANARY_SECRET not in record.getMessage()
