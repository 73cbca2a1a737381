"""`maildiag ses probe --smtp` against aiosmtpd on loopback: STARTTLS required, AUTH required."""

import datetime
import email
import email.policy
import ipaddress
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from diag.cli import cli

USER = "AKIAIOSFODNN7EXAMPLE"
PASSWORD = "smtp-password-CANARY-0123456789"


def _certificate(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


class Recorder:
    def __init__(self):
        self.envelopes = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Ok 0100018c-smtp-example"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
        password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
        self.logins.append((login, session.ssl is not None))
        # handled=False makes aiosmtpd reply 535 itself on failure.
        return AuthResult(success=(login == USER and password == PASSWORD), handled=False)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(tmp_path, aws_env):
    import ssl

    cert_path, key_path = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=_free_port(), tls_context=context, require_starttls=True,
                            auth_required=True, auth_require_tls=True, authenticator=recorder.authenticate)
    controller.start()
    yield controller, recorder, cert_path
    controller.stop()


def run_smtp(controller, cert_path, *extra, password=PASSWORD):
    args = ["ses", "probe", "--smtp", "--smtp-host", "127.0.0.1", "--smtp-port", str(controller.port),
            "--smtp-user", USER, "--smtp-cafile", str(cert_path), "--from", "sender@example.org", *extra]
    return CliRunner(env={"MAILDIAG_SMTP_PASSWORD": password}).invoke(cli, args, catch_exceptions=False)


def test_smtp_probe_received(smtp_server):
    controller, recorder, cert_path = smtp_server
    result = run_smtp(controller, cert_path, "--to", "success+smtp", "--configuration-set", "app")
    assert result.exit_code == 0, result.stderr
    envelope = recorder.envelopes[0]
    assert envelope.mail_from == "sender@example.org"
    assert envelope.rcpt_tos == ["success+smtp@simulator.amazonses.com"]
    parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    token = parsed["X-Maildiag-Probe"]
    assert f"maildiag probe {token}" == parsed["Subject"]
    assert parsed["X-SES-CONFIGURATION-SET"] == "app"
    assert token in result.stdout


def test_smtp_auth_after_starttls(smtp_server):
    controller, recorder, cert_path = smtp_server
    run_smtp(controller, cert_path, "--to", "success")
    assert recorder.logins == [(USER, True)]


def test_smtp_wrong_password(smtp_server):
    controller, recorder, cert_path = smtp_server
    result = run_smtp(controller, cert_path, "--to", "success", password="wrong-password-123")
    assert result.exit_code == 2, result.stderr
    assert "SMTP AUTH rejected" in result.stderr
    assert recorder.envelopes == []


def test_smtp_untrusted_certificate(smtp_server, tmp_path):
    controller, recorder, _ = smtp_server
    other = tmp_path / "other"
    other.mkdir()
    other_cert, _ = _certificate(other)
    result = run_smtp(controller, other_cert, "--to", "success")
    assert result.exit_code == 2
    assert "TLS with 127.0.0.1" in result.stderr
    assert recorder.logins == []


def test_smtp_missing_cafile(smtp_server, tmp_path):
    controller, _, _ = smtp_server
    result = run_smtp(controller, tmp_path / "missing.pem", "--to", "success")
    assert result.exit_code == 2
    assert "--smtp-cafile" in result.stderr


def test_smtp_unreachable(aws_env, tmp_path):
    args = ["ses", "probe", "--smtp", "--smtp-host", "127.0.0.1", "--smtp-port", str(_free_port()),
            "--smtp-user", USER, "--from", "sender@example.org", "--to", "success"]
    result = CliRunner(env={"MAILDIAG_SMTP_PASSWORD": PASSWORD}).invoke(cli, args)
    assert result.exit_code == 3
    assert "cannot reach SMTP server" in result.stderr
