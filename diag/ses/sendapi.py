"""Send probe messages through the SES v2 API (SendEmail with raw content)."""

import logging
import time

import botocore.exceptions
from botocore.parsers import ResponseParserError

from diag.errors import UsageError
from diag.ses import aws
from diag.ses.identities import identity_candidates
from diag.ses.lookup import Recorder
from diag.ses.probe import Recipient, RateLimiter, build_message, new_token, send_interval, with_backoff

log = logging.getLogger(__name__)

SIMULATOR_HINT = "use --to success (success@simulator.amazonses.com) or another mailbox simulator address, or verify the recipient"


def _verified(recorder: Recorder, address: str) -> bool | None:
    """Return whether the address, its domain or a parent domain is a verified identity, None when unknown."""
    unknown = False
    for name in identity_candidates(address):
        key = f"get_email_identity:{name}"
        response = recorder.call("sesv2", "GetEmailIdentity", key=key, EmailIdentity=name)
        if response and (response.get("VerificationStatus") == "SUCCESS" or response.get("VerifiedForSendingStatus")):
            return True
        if response is None and recorder.outcomes.get(key) != "not_found":
            unknown = True
    return None if unknown else False


def preflight(context: aws.AwsContext, recipients: list[Recipient]) -> dict:
    """Check sandbox and quota before sending; return the GetAccount facts (empty if unknown).

    Raises UsageError for an unverified recipient in the sandbox or an exhausted quota.
    """
    recorder = Recorder(context)
    response = recorder.call("sesv2", "GetAccount")
    if response is None:
        log.warning("GetAccount %s in %s: sandbox and quota not checked before sending", recorder.outcomes.get("get_account"), context.region)
        return {}

    quota = response.get("SendQuota") or {}
    account = {"production_access": response.get("ProductionAccessEnabled"), "max_send_rate": quota.get("MaxSendRate")}
    if response.get("ProductionAccessEnabled") is False:
        for recipient in recipients:
            if not recipient.simulator and _verified(recorder, recipient.address) is False:
                raise UsageError(
                    f"the account is in the SES sandbox in {context.region} and {recipient.address} is not a verified identity there; {SIMULATOR_HINT}"
                )

    # Mailbox simulator messages do not count against the quota; -1 means unlimited.
    counted = sum(1 for recipient in recipients if not recipient.simulator)
    limit, sent = quota.get("Max24HourSend"), quota.get("SentLast24Hours") or 0
    if counted and limit is not None and limit >= 0 and sent + counted > limit:
        raise UsageError(f"sending {counted} probe(s) would exceed the 24-hour quota in {context.region} ({sent:.0f} of {limit:.0f} used); wait or send to the mailbox simulator")
    return account


def _rejected_error(error: botocore.exceptions.ClientError, region: str, sender: str, recipient: str) -> UsageError:
    """Return the error for a MessageRejected response, with the fix for the identity SES named.

    SES returns "Email address is not verified. The following identities failed the check
    in region REGION: ..." for an unverified From, and for an unverified recipient in the
    sandbox; other servers word an unauthorised From as "did not have authority to send".
    """
    message = error.response.get("Error", {}).get("Message", "")
    lowered = message.lower()
    if "not verified" not in lowered and "authority to send" not in lowered:
        return UsageError(f"SES rejected the probe in {region}: {message}")

    domain = sender.rpartition("@")[2].lower()
    from_named = sender.lower() in lowered or "authority to send" in lowered
    recipient_named = recipient.lower() in lowered
    verify_from = (f"verify the From domain in {region}: `aws sesv2 create-email-identity --email-identity {domain} --region {region}`, "
                   f"then publish the three DKIM CNAMEs it returns (`maildiag ses check --region {region}` lists them)")
    if from_named and not recipient_named:
        return UsageError(f"SES rejected the probe in {region} because the From address {sender} is not verified there: {message}; {verify_from}")
    if recipient_named and not from_named:
        return UsageError(f"SES rejected the probe in {region} because the account is in the sandbox and {recipient} is not verified: {message}; {SIMULATOR_HINT}")
    return UsageError(f"SES rejected the probe in {region}: {message}; {verify_from}; in the sandbox, also {SIMULATOR_HINT}")


def send(context: aws.AwsContext, sender: str, recipients: list[Recipient], configuration_set: str | None = None, sleep=time.sleep) -> list[dict]:
    """Send one probe per recipient and return [{recipient, token, message_id}]."""
    account = preflight(context, recipients)
    limiter = RateLimiter(send_interval(account.get("max_send_rate")), sleep=sleep)
    # botocore's own retries are off for SendEmail so that the bounded backoff here is the only one.
    client = context.client("sesv2", retries=1)

    results = []
    for recipient in recipients:
        token = new_token()
        message = build_message(sender, recipient.address, token, configuration_set)
        params = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [recipient.address]},
            "Content": {"Raw": {"Data": message.as_bytes()}},
        }
        if configuration_set:
            params["ConfigurationSetName"] = configuration_set

        limiter.wait()
        try:
            response = with_backoff(lambda: client.send_email(**params), aws.is_throttling, sleep=sleep, operation=f"SendEmail to {recipient.address}")
        except botocore.exceptions.ClientError as error:
            if aws.error_code(error) == "MessageRejected":
                raise _rejected_error(error, context.region, sender, recipient.address) from None
            if aws.error_code(error) == "NotFoundException" and configuration_set:
                raise UsageError(f"configuration set {configuration_set!r} does not exist in {context.region}; check --configuration-set") from None
            raise aws.translate(error, "SendEmail", context.region) from None
        except (botocore.exceptions.BotoCoreError, ResponseParserError) as error:
            raise aws.translate(error, "SendEmail", context.region) from None

        log.info("probe %s sent to %s as %s", token, recipient.address, response["MessageId"])
        results.append({"recipient": recipient.address, "token": token, "message_id": response["MessageId"], "simulator": recipient.simulator})
    return results
