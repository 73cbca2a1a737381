"""Call one AWS operation and record how it went, so one denied call does not end the check.

Each recorded outcome is `ok`, `denied` (IAM refused the call), `temperror` (throttled or a
5xx after botocore's retries) or `error` (any other service error). Credential and network
failures affect every later call too, so they raise at once.
"""

import logging

import botocore.exceptions
from botocore import xform_name

from diag.ses import aws

log = logging.getLogger(__name__)


class Recorder:
    """Calls AWS operations for one region and keeps each operation's outcome."""

    def __init__(self, context: aws.AwsContext):
        self.context = context
        self.outcomes: dict[str, str] = {}
        self.failures: list[dict] = []

    def call(self, service: str, operation: str, key: str | None = None, **params):
        """Return the response of `operation`, or None when it was denied or failed.

        `key` names the outcome in `outcomes` (default: the operation's snake_case name).
        Raises MaildiagError for rejected credentials and unreachable endpoints.
        """
        key = key or xform_name(operation)
        method = getattr(self.context.client(service), xform_name(operation))
        log.debug("calling %s %s in %s", service, operation, self.context.region)
        try:
            response = method(**params)
        except botocore.exceptions.ClientError as error:
            outcome = self._classify(error)
            if outcome is None:
                raise aws.translate(error, operation, self.context.region) from None
            self._record_failure(key, operation, outcome, error)
            return None
        except (botocore.exceptions.BotoCoreError,) as error:
            raise aws.translate(error, operation, self.context.region) from None

        self.outcomes[key] = "ok"
        return response

    def _classify(self, error: botocore.exceptions.ClientError) -> str | None:
        if aws.error_code(error) in aws.BAD_CREDENTIALS_CODES:
            return None
        if aws.is_access_denied(error):
            return "denied"
        if aws.is_temporary(error):
            return "temperror"
        return "error"

    def _record_failure(self, key: str, operation: str, outcome: str, error: botocore.exceptions.ClientError) -> None:
        code = aws.error_code(error)
        # Keep the first line: some endpoints return a whole HTML page as the error message.
        message = (error.response.get("Error", {}).get("Message") or "").strip().splitlines()[:1]
        # A later failure of the same key (one call per identity) keeps the first outcome.
        self.outcomes.setdefault(key, outcome)
        self.failures.append({"operation": operation, "outcome": outcome, "code": code, "message": "".join(message)[:200]})
        log.warning("%s in %s: %s (%s); continuing without it", operation, self.context.region, outcome, code)
