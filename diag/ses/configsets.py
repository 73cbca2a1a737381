"""Gather the configuration sets of one region and their event destinations (SES v2)."""

import logging

from diag.ses.lookup import Recorder

log = logging.getLogger(__name__)

_DESTINATION_KINDS = {
    "SnsDestination": ("sns", "TopicArn"),
    "CloudWatchDestination": ("cloudwatch", None),
    "KinesisFirehoseDestination": ("firehose", "DeliveryStreamArn"),
    "EventBridgeDestination": ("eventbridge", "EventBusArn"),
    "PinpointDestination": ("pinpoint", "ApplicationArn"),
}


def list_names(recorder: Recorder) -> list[str] | None:
    """Return the configuration set names of the region, following NextToken."""
    names, token = [], None
    while True:
        params = {"PageSize": 1000}
        if token:
            params["NextToken"] = token
        response = recorder.call("sesv2", "ListConfigurationSets", **params)
        if response is None:
            return None
        names.extend(response.get("ConfigurationSets", []))
        token = response.get("NextToken")
        if not token:
            return names


def describe_destination(destination: dict) -> dict:
    facts = {
        "name": destination.get("Name"),
        "enabled": destination.get("Enabled"),
        "event_types": destination.get("MatchingEventTypes", []),
    }
    for field, (kind, target_key) in _DESTINATION_KINDS.items():
        if field in destination:
            facts["kind"] = kind
            facts["target"] = destination[field].get(target_key) if target_key else None
    return facts


def describe(recorder: Recorder, name: str) -> dict:
    """Return the facts of configuration set `name`; parts that could not be read are absent."""
    facts: dict = {"name": name, "lookup": "ok"}
    response = recorder.call("sesv2", "GetConfigurationSet", key=f"get_configuration_set:{name}", ConfigurationSetName=name)
    if response is None:
        facts["lookup"] = recorder.last_failure().get("outcome", "error")
    else:
        facts["sending_enabled"] = (response.get("SendingOptions") or {}).get("SendingEnabled")
        facts["reputation_metrics_enabled"] = (response.get("ReputationOptions") or {}).get("ReputationMetricsEnabled")
        facts["tls_policy"] = (response.get("DeliveryOptions") or {}).get("TlsPolicy")
        facts["suppressed_reasons"] = (response.get("SuppressionOptions") or {}).get("SuppressedReasons")

    key = f"get_configuration_set_event_destinations:{name}"
    destinations = recorder.call("sesv2", "GetConfigurationSetEventDestinations", key=key, ConfigurationSetName=name)
    if destinations is None:
        # Without the destinations, whether this set handles bounces is unknown, not false.
        facts["event_destinations_lookup"] = recorder.last_failure().get("outcome", "error")
    else:
        facts["event_destinations_lookup"] = "ok"
        facts["event_destinations"] = [describe_destination(item) for item in destinations.get("EventDestinations", [])]
        handled = set()
        for destination in facts["event_destinations"]:
            if destination["enabled"]:
                handled.update(event_type.upper() for event_type in destination["event_types"])
        facts["handles_bounces"] = "BOUNCE" in handled
        facts["handles_complaints"] = "COMPLAINT" in handled
    return facts


def gather(recorder: Recorder) -> list[dict] | None:
    """Return the facts of every configuration set, or None when listing failed."""
    names = list_names(recorder)
    if names is None:
        return None
    return [describe(recorder, name) for name in names]
