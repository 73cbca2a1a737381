"""Check an application's SES settings against AWS: key pair, identity, configuration set, permissions.

The checks run with the configured key pair, not the caller's own credentials, because the
question is whether the application's key works.
"""

import logging

from diag.ses import aws
from diag.ses.config import AppConfig
from diag.ses.identities import identity_candidates
from diag.ses.lookup import FAILED_OUTCOMES, Recorder

log = logging.getLogger(__name__)

# Least privilege for an application that only sends (SES Developer Guide, "Controlling
# access to Amazon SES"): these two actions and nothing else.
SEND_ACTIONS = ["ses:SendEmail", "ses:SendRawEmail"]
# Write actions a sending key should be denied, grouped by what a leaked key could do with them.
WRITE_ACTION_GROUPS = {
    # Identity policies are how SES sending authorization lets other accounts send as an identity.
    "let other AWS accounts send as your identities": ["ses:CreateEmailIdentityPolicy", "ses:UpdateEmailIdentityPolicy"],
    "create, delete or re-key sending identities": ["ses:CreateEmailIdentity", "ses:DeleteEmailIdentity", "ses:PutEmailIdentityDkimSigningAttributes"],
    "change the SES account and its configuration sets": ["ses:PutAccountDetails", "ses:PutAccountSendingAttributes",
                                                          "ses:CreateConfigurationSet", "ses:DeleteConfigurationSet"],
    "create IAM users, keys or policies, or assume roles": ["iam:CreateAccessKey", "iam:CreateUser", "iam:AttachUserPolicy",
                                                            "iam:PutUserPolicy", "sts:AssumeRole"],
}
WRITE_ACTIONS = [action for actions in WRITE_ACTION_GROUPS.values() for action in actions]
# Read-only actions: a leaked key with them reveals account details but changes nothing.
READ_ACTIONS = ["ses:GetAccount", "ses:ListEmailIdentities", "s3:ListAllMyBuckets"]


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
    """Return {result, arn, account, code} from STS GetCallerIdentity with the configured keys.

    `result` is `pass`, `fail` (AWS rejected the key pair), `temperror` or `error`.
    GetCallerIdentity needs no IAM permission (AWS STS API reference), so a denial means
    the key pair itself was refused.
    """
    response = recorder.call("sts", "GetCallerIdentity", record_bad_credentials=True)
    if response is not None:
        return {"result": "pass", "arn": response.get("Arn"), "account": response.get("Account")}

    failure = recorder.last_failure()
    code = failure.get("code")
    if failure.get("outcome") == "denied":
        problems.append({
            "field": "AccessKeyId",
            "problem": f"AWS STS rejected the key pair ({code})",
            "fix": "check AccessKeyId and SecretAccessKey belong together and the key is active (IAM console, Security credentials)",
        })
        return {"result": "fail", "code": code}
    return {"result": failure.get("outcome", "error"), "code": code}


def check_identity(recorder: Recorder, address: str) -> dict:
    """Return the identity that authorises `address`: the address, its domain or a parent domain.

    A verified domain also covers its subdomains (SES Developer Guide, "Creating and
    verifying identities"), so the walk goes up to the organisational domain.
    """
    domain = address.rpartition("@")[2].lower()
    result: dict = {"address": address, "domain": domain, "verified": False, "candidates": []}
    for name in identity_candidates(address):
        key = f"get_email_identity:{name}"
        response = recorder.call("sesv2", "GetEmailIdentity", key=key, EmailIdentity=name)
        if response is None:
            outcome = recorder.outcomes.get(key)
            status = "NOT_FOUND" if outcome == "not_found" else outcome
            result["candidates"].append({"name": name, "status": status})
            continue
        status = response.get("VerificationStatus")
        result["candidates"].append({"name": name, "status": status})
        if status == "SUCCESS" or response.get("VerifiedForSendingStatus"):
            result.update(verified=True, name=name, status=status, lookup="ok")
            return result

    # No candidate is verified. A failed lookup leaves the result open, so `lookup` records it.
    failed = [candidate["status"] for candidate in result["candidates"] if candidate["status"] in FAILED_OUTCOMES]
    result["lookup"] = failed[0] if failed else "ok"
    return result


def check_configuration_set(recorder: Recorder, name: str, problems: list[dict]) -> bool | None:
    """Return whether the configuration set exists in the region, None when unknown."""
    key = f"get_configuration_set:{name}"
    if recorder.call("sesv2", "GetConfigurationSet", key=key, ConfigurationSetName=name) is not None:
        return True
    if recorder.outcomes.get(key) == "not_found":
        region = recorder.context.region
        problems.append({
            "field": "ConfigurationSet",
            "problem": f"{name!r} does not exist in {region}, so SES rejects every send that names it",
            "fix": f"create it with `aws sesv2 create-configuration-set --configuration-set-name {name} --region {region}` or correct the name",
        })
        return False
    return None


def check_permissions(recorder: Recorder, caller_arn: str) -> dict:
    """Return which send actions, write actions and read-only actions the key's principal is allowed."""
    principal = _principal_arn(caller_arn)
    if principal is None:
        return {"status": "unknown", "reason": f"cannot simulate policies for {caller_arn}"}
    response = recorder.call(
        "iam", "SimulatePrincipalPolicy", key="simulate_principal_policy",
        PolicySourceArn=principal, ActionNames=SEND_ACTIONS + WRITE_ACTIONS + READ_ACTIONS,
    )
    if response is None:
        outcome = recorder.outcomes.get("simulate_principal_policy")
        # A least-privilege key is not allowed iam:SimulatePrincipalPolicy, so "denied" is expected.
        return {"status": "unknown", "lookup": outcome, "reason": f"iam:SimulatePrincipalPolicy {outcome}"}

    allowed = {item["EvalActionName"] for item in response.get("EvaluationResults", []) if item.get("EvalDecision") == "allowed"}
    groups = [
        {"effect": effect, "actions": [action for action in actions if action in allowed]}
        for effect, actions in WRITE_ACTION_GROUPS.items()
    ]
    return {
        "status": "checked",
        "lookup": "ok",
        "principal": principal,
        "send_allowed": all(action in allowed for action in SEND_ACTIONS),
        "send_denied": [action for action in SEND_ACTIONS if action not in allowed],
        "extra_allowed": [action for action in WRITE_ACTIONS if action in allowed],
        "extra_allowed_groups": [group for group in groups if group["actions"]],
        "read_allowed": [action for action in READ_ACTIONS if action in allowed],
    }


def check_online(config: AppConfig, facts: dict, problems: list[dict], context: aws.AwsContext) -> Recorder:
    """Add credentials, identity, configuration set and permission facts to `facts`.

    Each check runs when the settings it needs are usable, whatever the other settings'
    problems; returns the recorder with every call's outcome.
    """
    recorder = Recorder(context)
    facts["credentials"] = check_credentials(recorder, problems)
    if facts["credentials"]["result"] != "pass":
        return recorder

    if facts.get("from_address"):
        facts["identity"] = check_identity(recorder, facts["from_address"])
    if facts.get("configuration_set") and not any(problem["field"] == "ConfigurationSet" for problem in problems):
        facts["configuration_set_exists"] = check_configuration_set(recorder, facts["configuration_set"], problems)
        if facts["configuration_set_exists"] is None:
            facts["configuration_set_lookup"] = recorder.outcomes.get(f"get_configuration_set:{facts['configuration_set']}")
    facts["permissions"] = check_permissions(recorder, facts["credentials"]["arn"])
    return recorder
