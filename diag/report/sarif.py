"""SARIF 2.1.0 report for code-scanning tools (OASIS SARIF v2.1.0, https://docs.oasis-open.org/sarif/sarif/v2.1.0/).

One run. Every rule the engine evaluated is a reportingDescriptor; every finding is a
result. Lookups that failed temporarily and unreadable inputs become tool execution
notifications, because SARIF results describe problems in the analysed artifact.
"""

import hashlib
import json
from pathlib import PurePosixPath, PureWindowsPath
from typing import TextIO
from urllib.parse import quote

from diag.report.view import iter_subjects, subject_domain

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

# Severity to SARIF result level (SARIF 2.1.0 section 3.27.10). The one place this is decided.
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def level_for(severity: str) -> str:
    """Return the SARIF level of a rule severity. An unknown severity maps to warning."""
    return LEVELS.get(severity, "warning")


def artifact_location(path: str) -> dict:
    """Return the artifactLocation of a message source: a relative URI reference, a file URI, or a description for stdin."""
    if path == "-":
        return {"description": {"text": "standard input"}}

    windows = PureWindowsPath(path)
    if windows.drive:
        return {"uri": windows.as_uri()}
    posix = PurePosixPath(path)
    if posix.is_absolute():
        return {"uri": posix.as_uri()}
    # Relative paths stay relative so that code-scanning services resolve them against the checkout.
    return {"uri": quote(posix.as_posix(), safe="/")}


def _rules(report: dict) -> list[dict]:
    """Return one reportingDescriptor per rule code, enriched from the findings that carry documentation."""
    rules: dict[str, dict] = {}
    for _kind, entry in iter_subjects(report):
        for outcome in entry.get("outcomes") or []:
            rules.setdefault(outcome["code"], _descriptor(outcome))
        for finding in entry.get("findings") or []:
            descriptor = rules.setdefault(finding["code"], _descriptor(finding))
            _add_documentation(descriptor, finding)
    return [rules[code] for code in sorted(rules)]


def _descriptor(outcome: dict) -> dict:
    return {
        "id": outcome["code"],
        "name": outcome["name"],
        "shortDescription": {"text": outcome.get("title") or outcome["name"]},
        "defaultConfiguration": {"level": level_for(outcome.get("severity", ""))},
        "properties": {"severity": outcome.get("severity", "")},
    }


def _add_documentation(descriptor: dict, finding: dict) -> None:
    if finding.get("why"):
        descriptor["fullDescription"] = {"text": finding["why"].strip()}
    references = finding.get("references") or []
    if references:
        descriptor["helpUri"] = references[0]["url"]
        lines = [f"- {reference['title']}: {reference['url']}" for reference in references]
        descriptor["help"] = {"text": "\n".join(lines)}
    for key in ("category", "confidence"):
        if finding.get(key):
            descriptor["properties"][key] = finding[key]
    if finding.get("category"):
        descriptor["properties"]["tags"] = [finding["category"]]


def _result(kind: str, entry: dict, finding: dict, rule_index: int) -> dict:
    """Return the SARIF result of one finding on a message or a domain."""
    location: dict = {}
    if kind == "message":
        source_path = str((entry.get("source") or {}).get("path", "-"))
        location["physicalLocation"] = {"artifactLocation": artifact_location(source_path)}
        subject_id = f"{source_path}#{(entry.get('source') or {}).get('index', 0)}"
    else:
        subject_id = subject_domain(entry)
        # Code scanning places an alert on a file: for a DNS check, the expectations file
        # that describes the domain, when there is one.
        expectations = ((entry.get("dns") or {}).get("expectations") or {}).get("source")
        if expectations:
            location["physicalLocation"] = {"artifactLocation": artifact_location(str(expectations))}

    dns_name = _dns_name(kind, entry, finding)
    if dns_name:
        location["logicalLocations"] = [{"name": dns_name, "fullyQualifiedName": dns_name, "kind": "resource"}]

    text = finding.get("message") or finding.get("title") or finding["name"]
    result = {
        "ruleId": finding["code"],
        "ruleIndex": rule_index,
        "level": level_for(finding.get("severity", "")),
        "message": {"text": text},
        # Stable across runs, so that code scanning tracks one alert per rule and subject.
        "partialFingerprints": {"maildiagFinding/v1": _fingerprint(finding["name"], subject_id)},
        "properties": {
            "name": finding["name"],
            "severity": finding.get("severity", ""),
            "evidence": finding.get("evidence") or [],
            "fix": finding.get("fix") or [],
        },
    }
    if location:
        result["locations"] = [location]
    return result


def _dns_name(kind: str, entry: dict, finding: dict) -> str:
    """Return the DNS name a DNS finding concerns: the checked domain, or the message's From domain."""
    if kind == "domain":
        return subject_domain(entry)
    if finding.get("category") == "dns":
        # NOTE: a DNS finding on a message may concern another name (the MAIL FROM domain or
        # _dmarc.<domain>), but findings do not name it yet, so the From domain stands in.
        return str(((entry.get("identities") or {}).get("from") or {}).get("domain") or "")
    return ""


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def _notifications(report: dict) -> list[dict]:
    notifications = []
    for kind, entry in iter_subjects(report):
        subject = subject_domain(entry) if kind == "domain" else (entry.get("source") or {}).get("path", "-")
        for outcome in entry.get("outcomes") or []:
            if outcome.get("outcome") != "error":
                continue
            detail = f": {outcome['detail']}" if outcome.get("detail") else ""
            notifications.append(
                {
                    "level": "warning",
                    "message": {"text": f"{subject}: could not check {outcome['name']}{detail}; retry later"},
                    "associatedRule": {"id": outcome["code"]},
                }
            )
    for error in report.get("errors") or []:
        notifications.append({"level": "error", "message": {"text": error.get("message", "")}})
    return notifications


def build_sarif(report: dict) -> dict:
    """Return the SARIF log of `report` as a dictionary."""
    rules = _rules(report)
    index_of = {rule["id"]: index for index, rule in enumerate(rules)}

    results = []
    for kind, entry in iter_subjects(report):
        for finding in entry.get("findings") or []:
            results.append(_result(kind, entry, finding, index_of[finding["code"]]))

    tool = report.get("tool") or {}
    invocation = {
        # executionSuccessful is about the tool, not the findings: false when an input could not be read.
        "executionSuccessful": not report.get("errors"),
        "toolExecutionNotifications": _notifications(report),
        "properties": {"command": report.get("command", "")},
    }
    run = {
        "tool": {
            "driver": {
                "name": tool.get("name", "maildiag"),
                "version": tool.get("version", ""),
                "rules": rules,
            }
        },
        "invocations": [invocation],
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def render(report: dict, stream: TextIO) -> None:
    """Write `report` as a SARIF 2.1.0 log to `stream`."""
    json.dump(build_sarif(report), stream, indent=2, ensure_ascii=True)
    stream.write("\n")
