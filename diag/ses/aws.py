"""Open a boto3 session for one region and turn AWS failures into one-line maildiag errors.

Credentials come from boto3's standard chain (environment, shared credentials and config
files, --profile, container and instance roles). Only this module and the SES modules
import boto3, and only when a `maildiag ses` command runs.
"""

import logging
import urllib.parse
from dataclasses import dataclass, field

import boto3
import botocore.exceptions
from botocore.config import Config
from botocore.parsers import ResponseParserError

from diag.errors import MaildiagError, TemporaryFailure, UsageError
from diag.ses.redact import register_secret
from diag.ses.regions import available_regions, unknown_region_hint

log = logging.getLogger(__name__)

# Error codes that mean the caller lacks a permission (IAM) rather than a bad request.
ACCESS_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
# Error codes that mean the key pair itself was rejected.
BAD_CREDENTIALS_CODES = {
    "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
    "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "IncompleteSignature",
}
# Throttling codes from the botocore retry handler's list (botocore/retries/standard.py).
THROTTLING_CODES = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "LimitExceededException", "SlowDown", "EC2ThrottledException",
}
TEMPORARY_CODES = THROTTLING_CODES | {"InternalFailure", "InternalError", "ServiceUnavailable", "ServiceUnavailableException"}

# Failures to reach the endpoint at all: refused or timed-out connections, TLS and proxy
# errors (botocore ConnectionError), and reads that timed out or were cut off
# (HTTPClientError). A retry later may work.
CONNECTION_ERRORS = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)
# Failures that end the whole command: no usable credentials at all.
CREDENTIAL_ERRORS = (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError)


# IAM action prefix of each service that maildiag calls (AWS Service Authorization Reference).
_ACTION_PREFIXES = {"sesv2": "ses", "ses": "ses", "cloudwatch": "cloudwatch", "iam": "iam", "sts": "sts"}


def iam_action(service: str, operation: str) -> str:
    """Return the IAM action that allows `operation`, e.g. ses:GetAccount for sesv2 GetAccount."""
    return f"{_ACTION_PREFIXES.get(service, service)}:{operation}"


def check_region(region: str | None) -> str:
    """Return `region` if SES v2 is offered there, else raise UsageError with close matches."""
    if not region:
        raise UsageError("no AWS region given; pass --region (e.g. --region us-east-1) or set AWS_REGION")
    known = available_regions()
    if region not in known:
        raise UsageError(f"region {region!r} is not an SES region known to botocore; {unknown_region_hint(region, known)}")
    return region


def check_endpoint_url(endpoint_url: str | None) -> str | None:
    """Return `endpoint_url` if it is an http or https URL with a host, else raise UsageError."""
    if endpoint_url is None:
        return None
    parsed = urllib.parse.urlsplit(endpoint_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(f"--endpoint-url {endpoint_url!r} is not an http:// or https:// URL with a host; use for example http://127.0.0.1:5000")
    return endpoint_url


@dataclass
class AwsContext:
    """A boto3 session bound to one region, with clients created on first use."""

    session: boto3.session.Session
    region: str
    endpoint_url: str | None = None
    clients: dict = field(default_factory=dict)
    # HTTP status of the last response of each service, kept because a body that botocore
    # cannot parse (an HTML error page) raises ResponseParserError, which carries no status.
    last_status: dict[str, int] = field(default_factory=dict)

    def client(self, service: str, retries: int = 3):
        """Return the client for `service`; `retries` is botocore's total attempt count."""
        key = (service, retries)
        if key not in self.clients:
            config = Config(
                connect_timeout=5,
                read_timeout=20,
                retries={"mode": "standard", "total_max_attempts": retries},
                user_agent_extra="maildiag",
            )
            try:
                client = self.session.client(service, region_name=self.region, endpoint_url=self.endpoint_url, config=config)
            except ValueError as error:
                # botocore raises a bare ValueError for an endpoint URL it cannot use.
                raise UsageError(f"cannot create the {service} client: {error}; check --endpoint-url") from None
            client.meta.events.register("before-parse", self._status_keeper(service))
            self.clients[key] = client
        return self.clients[key]

    def _status_keeper(self, service: str):
        def keep_status(response_dict=None, **_):
            if response_dict is not None:
                self.last_status[service] = response_dict.get("status_code")
        return keep_status


def open_context(region: str | None, profile: str | None = None, endpoint_url: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None) -> AwsContext:
    """Return an AwsContext; explicit keys override the chain (used by `ses config`)."""
    region = check_region(region)
    endpoint_url = check_endpoint_url(endpoint_url)
    register_secret(secret_access_key)
    try:
        session = boto3.session.Session(
            profile_name=profile,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )
    except botocore.exceptions.ProfileNotFound:
        raise UsageError(f"AWS profile {profile!r} not found in the shared config or credentials file; check --profile or AWS_PROFILE") from None

    credentials = session.get_credentials()
    if credentials is None:
        raise UsageError("no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run `aws configure`, or pass --profile")
    # Whatever the chain found is masked in every log line from here on.
    register_secret(credentials.get_frozen_credentials().secret_key)
    register_secret(credentials.get_frozen_credentials().token)
    return AwsContext(session=session, region=region, endpoint_url=endpoint_url)


def error_code(error: Exception) -> str | None:
    """Return the AWS error code of a ClientError, else None."""
    if isinstance(error, botocore.exceptions.ClientError):
        return error.response.get("Error", {}).get("Code")
    return None


def http_status(error: Exception) -> int:
    """Return the HTTP status of a ClientError, 0 when unknown."""
    if isinstance(error, botocore.exceptions.ClientError):
        return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return 0


def is_access_denied(error: Exception) -> bool:
    """True for an IAM denial: a known code, or HTTP 403 whose body named no other AWS code.

    botocore uses the status as the code ("403") when it cannot read the error body, for
    example an XML error document returned to a JSON API.
    """
    code = error_code(error)
    if code in ACCESS_DENIED_CODES:
        return True
    return http_status(error) == 403 and code not in BAD_CREDENTIALS_CODES and code not in THROTTLING_CODES


def is_temporary(error: Exception) -> bool:
    """True for throttling, 5xx service errors and network failures: a retry may work."""
    if isinstance(error, CONNECTION_ERRORS):
        return True
    if isinstance(error, botocore.exceptions.ClientError):
        return error_code(error) in TEMPORARY_CODES or http_status(error) >= 500
    return False


def is_throttling(error: Exception) -> bool:
    return error_code(error) in THROTTLING_CODES


def translate(error: Exception, operation: str, region: str, service: str = "sesv2") -> MaildiagError:
    """Return the one-line MaildiagError for an AWS failure; temporary ones exit 3."""
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return UsageError("no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run `aws configure`, or pass --profile")
    if isinstance(error, botocore.exceptions.PartialCredentialsError):
        return UsageError(f"incomplete AWS credentials: {error}; set both the access key id and the secret access key")
    if isinstance(error, CONNECTION_ERRORS):
        return TemporaryFailure(f"{operation} in {region}: cannot reach the endpoint ({type(error).__name__}); check the network or --endpoint-url and retry")
    if isinstance(error, ResponseParserError):
        return TemporaryFailure(f"{operation} in {region}: the endpoint's answer is not an AWS API response; check --endpoint-url or the proxy, and retry")
    if isinstance(error, botocore.exceptions.ClientError):
        code = error_code(error)
        detail = error.response.get("Error", {}).get("Message") or code
        if is_access_denied(error):
            return UsageError(f"{operation} in {region}: access denied ({detail}); grant the calling identity {iam_action(service, operation)} or use another --profile")
        if code in BAD_CREDENTIALS_CODES:
            return UsageError(f"{operation} in {region}: AWS rejected the credentials ({code}); check the access key id and secret access key")
        if is_throttling(error):
            return TemporaryFailure(f"{operation} in {region}: throttled by AWS ({code}) after retries; wait a minute and run again")
        if is_temporary(error):
            return TemporaryFailure(f"{operation} in {region}: AWS service error ({code}); retry later")
        return UsageError(f"{operation} in {region}: {code}: {detail}")
    if isinstance(error, botocore.exceptions.BotoCoreError):
        return UsageError(f"{operation} in {region}: {error}")
    raise error
