"""Assemble the `ses.*` Facts document of one region (paths listed in docs/facts.md)."""

import logging

from diag.errors import TemporaryFailure, UsageError
from diag.ses import account, configsets, identities
from diag.ses.aws import AwsContext
from diag.ses.lookup import Recorder

log = logging.getLogger(__name__)


def _bounce_handling(identity_facts: list[dict], set_facts: list[dict] | None) -> dict:
    """Summarise where bounces and complaints go besides email forwarding."""
    sns_identities = [
        identity["name"] for identity in identity_facts
        if (identity.get("notifications") or {}).get("bounce_topic") and (identity.get("notifications") or {}).get("complaint_topic")
    ]
    destination_sets = [
        item["name"] for item in set_facts or []
        if item.get("handles_bounces") and item.get("handles_complaints")
    ]
    return {
        "sns_identities": sns_identities,
        "event_destination_sets": destination_sets,
        "automated": bool(sns_identities or destination_sets),
    }


def region_facts(context: AwsContext) -> dict:
    """Return the Facts document of the SES account in `context.region`.

    Raises UsageError when every SES call was denied and TemporaryFailure when the SES
    endpoint cannot be reached, because then nothing could be checked.
    """
    recorder = Recorder(context)
    ses: dict = {"region": context.region}

    account_facts = account.gather_account(recorder)
    if account_facts is not None:
        ses["account"] = account_facts
    if "sesv2" in recorder.unreachable:
        # Every other SES call goes to the same endpoint, so nothing could be checked.
        raise TemporaryFailure(
            f"GetAccount in {context.region}: cannot reach the endpoint ({recorder.unreachable['sesv2']}); "
            "check the network or --endpoint-url and retry"
        )

    identity_facts = identities.gather(recorder)
    if identity_facts is not None:
        ses["identities"] = identity_facts

    set_facts = configsets.gather(recorder)
    if set_facts is not None:
        ses["configuration_sets"] = set_facts

    ses["reputation"] = account.gather_reputation(recorder)
    if identity_facts is not None:
        ses["bounce_handling"] = _bounce_handling(identity_facts, set_facts)

    ses["lookups"] = dict(recorder.outcomes)
    ses["lookup_failures"] = recorder.failures
    if all(recorder.outcomes.get(key) == "denied" for key in ("get_account", "list_email_identities", "list_configuration_sets")):
        raise UsageError(
            f"SES in {context.region}: access denied to GetAccount, ListEmailIdentities and ListConfigurationSets; "
            "grant ses:GetAccount, ses:ListEmailIdentities, ses:GetEmailIdentity and ses:ListConfigurationSets, or use another --profile"
        )

    return {
        "source": {"path": f"ses:{context.region}", "index": 0},
        "input": {"kind": "ses"},
        "ses": ses,
    }
