"""Gather account posture for one region: sandbox, quota, enforcement, suppression, reputation.

Sources: SES v2 GetAccount, and the CloudWatch metrics AWS/SES Reputation.BounceRate and
Reputation.ComplaintRate, whose values are ratios between 0 and 1 (SES Developer Guide,
"Creating reputation monitoring alarms using CloudWatch").
"""

import datetime
import logging

from diag.ses.lookup import Recorder

log = logging.getLogger(__name__)

# SES publishes the reputation metrics about hourly, and only once bounces or complaints
# occurred, so a day is searched and the newest datapoint is used.
_REPUTATION_WINDOW = datetime.timedelta(hours=24)
_REPUTATION_PERIOD_SECONDS = 3600
_METRICS = {"bounce_rate": "Reputation.BounceRate", "complaint_rate": "Reputation.ComplaintRate"}


def gather_account(recorder: Recorder) -> dict | None:
    """Return the account facts from GetAccount, or None when the call failed."""
    response = recorder.call("sesv2", "GetAccount")
    if response is None:
        return None

    quota = response.get("SendQuota") or {}
    details = response.get("Details") or {}
    review = details.get("ReviewDetails") or {}
    facts = {
        "production_access": response.get("ProductionAccessEnabled"),
        "sending_enabled": response.get("SendingEnabled"),
        "enforcement_status": response.get("EnforcementStatus"),
        "send_quota": {
            "max_24_hour_send": quota.get("Max24HourSend"),
            "max_send_rate": quota.get("MaxSendRate"),
            "sent_last_24_hours": quota.get("SentLast24Hours"),
        },
        "suppressed_reasons": (response.get("SuppressionAttributes") or {}).get("SuppressedReasons", []),
    }
    if review:
        facts["production_review"] = {"status": review.get("Status"), "case_id": review.get("CaseId")}
    return facts


def gather_reputation(recorder: Recorder, now: datetime.datetime | None = None) -> dict:
    """Return {bounce_rate, complaint_rate, ...}; a rate is absent when CloudWatch has none."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    queries = [
        {
            "Id": key,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/SES", "MetricName": metric},
                "Period": _REPUTATION_PERIOD_SECONDS,
                "Stat": "Maximum",
            },
            "ReturnData": True,
        }
        for key, metric in _METRICS.items()
    ]
    response = recorder.call(
        "cloudwatch", "GetMetricData", key="cloudwatch_reputation",
        MetricDataQueries=queries, StartTime=now - _REPUTATION_WINDOW, EndTime=now, ScanBy="TimestampDescending",
    )
    if response is None:
        return {"status": "unknown", "reason": f"CloudWatch GetMetricData {recorder.outcomes.get('cloudwatch_reputation')}"}

    facts: dict = {"source": "cloudwatch", "window_hours": int(_REPUTATION_WINDOW.total_seconds() // 3600)}
    for result in response.get("MetricDataResults", []):
        values, timestamps = result.get("Values") or [], result.get("Timestamps") or []
        if not values:
            continue
        # ScanBy=TimestampDescending puts the newest datapoint first.
        facts[result["Id"]] = values[0]
        facts[f"{result['Id']}_timestamp"] = timestamps[0].isoformat() if timestamps else None

    if "bounce_rate" in facts or "complaint_rate" in facts:
        facts["status"] = "known"
    else:
        facts["status"] = "unknown"
        facts["reason"] = "no datapoints in the last 24 hours (SES publishes them only after bounces or complaints)"
    return facts
