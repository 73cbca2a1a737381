"""Send probe messages through the SES SMTP interface: STARTTLS on 587 (or TLS on 465), then AUTH.

SES SMTP credentials are derived from, but differ from, the IAM access key pair (SES
Developer Guide, "Obtaining Amazon SES SMTP credentials").
"""

import logging
import smtplib
import socket
import ssl
import time

from diag.errors import TemporaryFailure, UsageError
from diag.ses.probe import Recipient, RateLimiter, build_message, new_token, with_backoff
from diag.ses.redact import register_secret

log = logging.getLogger(__name__)

# SES replies "454 Throttling failure: Maximum sending rate exceeded." when sending too fast
# (SES Developer Guide, "SMTP response codes").
THROTTLING_CODES = {454}
IMPLICIT_TLS_PORT = 465
TIMEOUT_SECONDS = 30


def default_host(region: str) -> str:
    return f"email-smtp.{region}.amazonaws.com"


def _is_throttled(error: Exception) -> bool:
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code in THROTTLING_CODES


def _text(error: smtplib.SMTPResponseException) -> str:
    raw = error.smtp_error
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _connect(host: str, port: int, tls_context: ssl.SSLContext) -> smtplib.SMTP:
    """Open the session and upgrade it to TLS; AUTH never runs over plain text."""
    if port == IMPLICIT_TLS_PORT:
        return smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_SECONDS, context=tls_context)
    connection = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
    connection.ehlo()
    if not connection.has_extn("starttls"):
        connection.quit()
        raise UsageError(f"SMTP server {host}:{port} does not offer STARTTLS; maildiag does not send credentials in clear text")
    connection.starttls(context=tls_context)
    # RFC 3207 section 4.2: the client must discard what it learned before TLS and EHLO again.
    connection.ehlo()
    return connection


def send(host: str, port: int, user: str, password: str, sender: str, recipients: list[Recipient],
         configuration_set: str | None = None, cafile: str | None = None, sleep=time.sleep) -> list[dict]:
    """Send one probe per recipient over one SMTP session; return [{recipient, token, message_id, simulator}]."""
    register_secret(password)
    try:
        tls_context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as error:
        raise UsageError(f"--smtp-cafile {cafile}: cannot load CA certificates ({error.strerror or error})") from None
    limiter = RateLimiter(1.0, sleep=sleep)
    results = []
    try:
        connection = _connect(host, port, tls_context)
        try:
            connection.login(user, password)
            for recipient in recipients:
                token = new_token()
                message = build_message(sender, recipient.address, token, configuration_set)
                limiter.wait()
                with_backoff(lambda: connection.send_message(message, from_addr=sender, to_addrs=[recipient.address]),
                             _is_throttled, sleep=sleep, operation=f"SMTP send to {recipient.address}")
                # SES replies to DATA with "250 Ok MESSAGE-ID"; smtplib keeps no reply text for it,
                # so the probe is found by its token.
                results.append({"recipient": recipient.address, "token": token, "message_id": None, "simulator": recipient.simulator})
                log.info("probe %s sent to %s over SMTP", token, recipient.address)
        finally:
            try:
                connection.quit()
            except smtplib.SMTPException:
                log.debug("QUIT failed after sending; ignored")
    except smtplib.SMTPAuthenticationError as error:
        raise UsageError(f"SMTP AUTH rejected for user {user!r} at {host}:{port} ({error.smtp_code}); use SES SMTP credentials, not the IAM secret access key") from None
    except smtplib.SMTPNotSupportedError as error:
        raise UsageError(f"SMTP server {host}:{port}: {error}") from None
    except smtplib.SMTPRecipientsRefused as error:
        codes = "; ".join(f"{address}: {code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}" for address, (code, text) in error.recipients.items())
        raise UsageError(f"SMTP server {host}:{port} rejected the recipient: {codes}") from None
    except smtplib.SMTPResponseException as error:
        text = _text(error)
        if error.smtp_code in THROTTLING_CODES or 400 <= error.smtp_code < 500:
            raise TemporaryFailure(f"SMTP server {host}:{port} replied {error.smtp_code} {text}; retry later") from None
        hint = "; in the SES sandbox, send to the mailbox simulator (--to success) or verify the recipient" if "not verified" in text.lower() else ""
        raise UsageError(f"SMTP server {host}:{port} rejected the probe: {error.smtp_code} {text}{hint}") from None
    except ssl.SSLError as error:
        raise UsageError(f"TLS with {host}:{port} failed: {error.reason or error}; check --smtp-host (the certificate must match it) or --smtp-cafile") from None
    except (socket.timeout, TimeoutError):
        raise TemporaryFailure(f"SMTP server {host}:{port} timed out; check the network and retry") from None
    except (ConnectionError, smtplib.SMTPServerDisconnected, OSError) as error:
        raise TemporaryFailure(f"cannot reach SMTP server {host}:{port} ({error.__class__.__name__}); check --smtp-host and --smtp-port") from None
    return results
