"""Call one AWS operation and record how it went, so one failed call does not end the check.

Each recorded outcome is `ok`, `not_found` (the named resource does not exist), `denied` (IAM refused the call, including a bare HTTP 403),
`temperror` (throttled, a 5xx after botocore's retries, or the endpoint unreachable) or
`error` (any other failure, such as a response that is not an AWS API response). Missing
credentials end the command at once because every later call would fail the same way, and
so do rejected credentials unless the caller asks to record them.
"""

import logging

import botocore.exceptions
from botocore import xform_name
from botocore.parsers import ResponseParserError

from diag.ses import aws

log = logging.getLogger(__name__)

FAILED_OUTCOMES = ("denied", "temperror", "error")


class Recorder:
    """Calls AWS operations for one region and keeps each operation's outcome."""

    def __init__(self, context: aws.AwsContext):
        self.context = context
        self.outcomes: dict[str, str] = {}
        self.failures: list[dict] = []
        # Services whose endpoint could not be reached, with the exception's class name.
        self.unreachable: dict[str, str] = {}

    def call(self, service: str, operation: str, key: str | None = None, record_bad_credentials: bool = False, **params):
        """Return the response of `operation`, or None when it was denied or failed.

        `key` names the outcome in `outcomes` (default: the operation's snake_case name).
        Raises MaildiagError for missing credentials, and for rejected ones unless
        `record_bad_credentials` is true, which records them as `denied`.
        """
        key = key or xform_name(operation)
        if service in self.unreachable:
            # Each new attempt would wait for the connect timeout again.
            self._record_failure(key, service, operation, "temperror", self.unreachable[service], "endpoint not reachable earlier in this run")
            return None

        method = getattr(self.context.client(service), xform_name(operation))
        log.debug("calling %s %s in %s", service, operation, self.context.region)
        try:
            response = method(**params)
        except botocore.exceptions.ClientError as error:
            code = aws.error_code(error)
            if code in aws.BAD_CREDENTIALS_CODES and not record_bad_credentials:
                raise aws.translate(error, operation, self.context.region, service) from None
            if code == "NotFoundException":
                # A valid response, not a failure: the identity or configuration set does not exist.
                self.outcomes[key] = "not_found"
                return None
            self._record_failure(key, service, operation, self._classify(error), code, _first_line(error.response.get("Error", {}).get("Message")))
            return None
        except ResponseParserError:
            # The body is no AWS error document (an HTML page from a proxy or a test
            # server), so the HTTP status is the only clue.
            status = self.context.last_status.get(service) or 0
            outcome = "error"
            if status == 403:
                outcome = "denied"
            elif status >= 500:
                outcome = "temperror"
            self._record_failure(key, service, operation, outcome, f"HTTP {status}" if status else "ResponseParserError",
                                 "the answer is not an AWS API response")
            return None
        except aws.CREDENTIAL_ERRORS as error:
            raise aws.translate(error, operation, self.context.region, service) from None
        except aws.CONNECTION_ERRORS as error:
            self.unreachable[service] = type(error).__name__
            self._record_failure(key, service, operation, "temperror", type(error).__name__, _first_line(str(error)))
            return None
        except botocore.exceptions.BotoCoreError as error:
            self._record_failure(key, service, operation, "error", type(error).__name__, _first_line(str(error)))
            return None

        self.outcomes[key] = "ok"
        return response

    def _classify(self, error: botocore.exceptions.ClientError) -> str:
        if aws.is_access_denied(error) or aws.error_code(error) in aws.BAD_CREDENTIALS_CODES:
            return "denied"
        if aws.is_temporary(error):
            return "temperror"
        return "error"

    def _record_failure(self, key: str, service: str, operation: str, outcome: str, code: str | None, message: str) -> None:
        # A later failure of the same key (one call per identity) keeps the first outcome.
        self.outcomes.setdefault(key, outcome)
        self.failures.append({
            "operation": operation,
            "action": aws.iam_action(service, operation),
            "outcome": outcome,
            "code": code,
            "message": message,
        })
        log.warning("%s in %s: %s (%s); continuing without it", operation, self.context.region, outcome, code)

    def last_failure(self) -> dict:
        """Return the most recent failure record, or {} when none was recorded."""
        return self.failures[-1] if self.failures else {}


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    if not lines:
        return ""
    if lines[0].startswith("<"):
        # An HTML page or an XML document that botocore could not read. Its first line
        # ("<!doctype html>") carries no information.
        return "an HTML or XML body that is not an AWS error response"
    return lines[0][:200]
