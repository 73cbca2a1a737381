"""Check an application's SES settings against AWS: key pair, identity, configuration set, permissions.

The checks run with the configured key pair, not the caller's own credentials, because the
question is whether the application's key works.
"""

import logging

from diag.ses import aws
from diag.ses.config import AppConfig
from diag.ses.lookup import Recorder

log = logging.getLogger(__name__)

# Least privilege for an application that only sends (SES Developer Guide, "Controlling
# access to Amazon SES"): these two actions and nothing else.
SEND_ACTIONS = ["ses:SendEmail", "ses:SendRawEmail"]
# Actions a sending key should be denied; an allowed one means the key can do more than send.
BROADER_ACTIONS = [
    "ses:SendTemplatedEmail", "ses:SendBulkEmail", "ses:SendBulkTemplatedEmail",
    "ses:CreateEmailIdentity", "ses:DeleteEmailIdentity", "ses:PutAccountDetails",
    "ses:PutAccountSendingAttributes", "ses:CreateConfigurationSet", "ses:DeleteConfigurationSet",
    "ses:ListEmailIdentities", "ses:GetAccount",
    "iam:CreateAccessKey", "iam:CreateUser", "iam:AttachUserPolicy", "iam:PutUserPolicy",
    "s3:ListAllMyBuckets", "sts:AssumeRole",
]


def _principal_arn(caller_arn: str) -> str | None:
    """Return the IAM ARN to simulate: a user ARN as is, an assumed role as its role ARN."""
    parts = caller_arn.split(":", 5)
    if len(parts) != 6:
        return None
    resource = parts[5]
    if resource.startswith("user/"):
        return caller_arn
    if resource.startswith("assumed-role/"):
        role = resource.split("/")[1]
        return f"arn:aws:iam::{parts[4]}:role/{role}"
    return None


def check_credentials(recorder: Recorder, problems: list[dict]) -> dict:
    """Return {result, arn, account} from STS GetCallerIdentity with the configured keys."""
    import botocore.exceptions

    client = recorder.context.client("sts")
    try:
        response = client.get_caller_identity()
    except botocore.exceptions.ClientError as error:
        code = aws.error_code(error)
        if aws.is_temporary(error):
            return {"result": "temperror", "code": code}
        problems.append({
            "field": "AccessKeyId",
            "problem": f"AWS STS rejected the key pair ({code})",
            "fix": "check AccessKeyId and SecretAccessKey belong together and the key is active (IAM console, Security credentials)",
        })
        return {"result": "fail", "code": code}
    except botocore.exceptions.BotoCoreError as error:
        raise aws.translate(error, "GetCallerIdentity", recorder.context.region) from None
    return {"result": "pass", "arn": response.get("Arn"), "account": response.get("Account")}


def check_identity(recorder: Recorder, address: str) -> dict:
    """Return the identity that authorises `address`: the address itself or its domain."""
    domain = address.rpartition("@")[2].lower()
    result: dict = {"address": address, "domain": domain, "verified": False, "candidates": []}
    for name in (address, domain):
        key = f"get_email_identity:{name}"
        response = recorder.call("sesv2", "GetEmailIdentity", key=key, EmailIdentity=name)
        if response is None:
            failure = recorder.failures[-1]
            status = "NOT_FOUND" if failure.get("code") == "NotFoundException" else recorder.outcomes.get(key)
            result["candidates"].append({"name": name, "status": status})
            continue
        status = response.get("VerificationStatus")
        result["candidates"].append({"name": name, "status": status})
        if status == "SUCCESS" or response.get("VerifiedForSendingStatus"):
            result.update(verified=True, name=name, status=status)
            return result

    result["lookup"] = "temperror" if any(c["status"] == "temperror" for c in result["candidates"]) else "ok"
    if all(c["status"] == "denied" for c in result["candidates"]):
        result["lookup"] = "denied"
    return result


def check_configuration_set(recorder: Recorder, name: str, problems: list[dict]) -> bool | None:
    """Return whether the configuration set exists in the region, None when unknown."""
    key = f"get_configuration_set:{name}"
    if recorder.call("sesv2", "GetConfigurationSet", key=key, ConfigurationSetName=name) is not None:
        return True
    if recorder.failures[-1].get("code") == "NotFoundException":
        problems.append({
            "field": "ConfigurationSet",
            "problem": f"{name!r} does not exist in {recorder.context.region}",
            "fix": f"create it with `aws sesv2 create-configuration-set --configuration-set-name {name} --region {recorder.context.region}` or correct the name",
        })
        return False
    return None


def check_permissions(recorder: Recorder, caller_arn: str) -> dict:
    """Return which send actions and broader actions the key's principal is allowed."""
    principal = _principal_arn(caller_arn)
    if principal is None:
        return {"status": "unknown", "reason": f"cannot simulate policies for {caller_arn}"}
    response = recorder.call(
        "iam", "SimulatePrincipalPolicy", key="simulate_principal_policy",
        PolicySourceArn=principal, ActionNames=SEND_ACTIONS + BROADER_ACTIONS,
    )
    if response is None:
        outcome = recorder.outcomes.get("simulate_principal_policy")
        # A least-privilege key is not allowed iam:SimulatePrincipalPolicy, so "denied" is expected.
        return {"status": "unknown", "reason": f"iam:SimulatePrincipalPolicy {outcome}"}

    allowed = {item["EvalActionName"] for item in response.get("EvaluationResults", []) if item.get("EvalDecision") == "allowed"}
    return {
        "status": "checked",
        "principal": principal,
        "send_allowed": all(action in allowed for action in SEND_ACTIONS),
        "send_denied": [action for action in SEND_ACTIONS if action not in allowed],
        "extra_allowed": [action for action in BROADER_ACTIONS if action in allowed],
    }


def check_online(config: AppConfig, facts: dict, problems: list[dict], context: aws.AwsContext) -> None:
    """Add credentials, identity, configuration set and permission facts to `facts`."""
    recorder = Recorder(context)
    facts["credentials"] = check_credentials(recorder, problems)
    if facts["credentials"]["result"] != "pass":
        return

    if facts.get("from_address"):
        facts["identity"] = check_identity(recorder, facts["from_address"])
    if facts.get("configuration_set"):
        facts["configuration_set_exists"] = check_configuration_set(recorder, facts["configuration_set"], problems)
    facts["permissions"] = check_permissions(recorder, facts["credentials"]["arn"])
    facts["lookups"] = dict(recorder.outcomes)
