"""Keep AWS secret access keys out of logs, error lines and reports.

A secret access key is 40 characters of base64 alphabet (IAM user guide, "Managing access
keys"). The filter masks any such run, plus every secret value registered at run time (a
configured SecretAccessKey, the chain's key, an SMTP password), whatever their shape.
"""

import logging
import re
import threading

MASK = "[redacted]"

# 40 characters from the base64 alphabet, not part of a longer token. A SHA-1 hex digest
# also matches, which is an acceptable false positive in a log line.
_KEY_SHAPE = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
# Secrets shorter than this are not registered: masking "a" everywhere would garble logs.
_MIN_SECRET_LENGTH = 8

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask `value` wherever it appears from now on (in logs and in redact())."""
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.add(value)


def redact(text: str) -> str:
    """Return `text` with registered secrets and secret-key-shaped runs replaced by MASK."""
    with _lock:
        # Longest first, so that a secret containing another is masked whole.
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return _KEY_SHAPE.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """A handler filter that rewrites each record's message, arguments and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            # Format the traceback now, so the handler prints the redacted cached text.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_log_filter() -> None:
    """Attach the filter to every handler of the root logger and of the botocore loggers.

    Filters on a logger see only records logged on that logger, not propagated ones, so
    the filter goes on the handlers, which see every record they emit.
    """
    loggers = [logging.getLogger(), logging.getLogger("botocore"), logging.getLogger("boto3")]
    for logger in loggers:
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
