"""JUnit XML report: one testsuite per message or domain, one testcase per rule outcome.

CI systems read the Ant JUnit format (testsuites > testsuite > testcase with failure, error
or skipped children). Passes are testcases too, so the CI page shows what was checked.
"""

import xml.etree.ElementTree as ET
from typing import TextIO

from diag.report.view import clean, format_value, is_missing_source, iter_subjects, subject_labels

ROOT_NAME = "maildiag"


def _failure_text(finding: dict) -> str:
    """Return the body of a <failure>: the message, evidence, fix steps and references."""
    lines = [finding.get("message", "")]

    evidence = finding.get("evidence") or []
    if evidence:
        lines += ["", "Evidence:"]
        lines += [f"  {item.get('path', '')} = {format_value(item.get('value'))}" for item in evidence]

    fix = finding.get("fix") or []
    if fix:
        lines += ["", "Fix:"]
        lines += [f"  {number}. {step.strip()}" for number, step in enumerate(fix, start=1)]

    references = finding.get("references") or []
    if references:
        lines += ["", "References:"]
        lines += [f"  {reference.get('title', '')}: {reference.get('url', '')}" for reference in references]
    return clean("\n".join(lines))


def _testcase(suite: ET.Element, suite_name: str, outcome: dict, finding: dict | None) -> str:
    """Append the testcase of one rule outcome to `suite` and return the outcome."""
    case = ET.SubElement(
        suite,
        "testcase",
        name=clean(f"{outcome.get('code', '')} {outcome['name']}".strip()),
        classname=suite_name,
    )
    state = outcome.get("outcome")
    detail = clean(outcome.get("detail", ""))

    if state == "fail":
        failure = ET.SubElement(
            case,
            "failure",
            message=clean((finding or {}).get("message") or outcome.get("title", "")),
            type=clean(outcome.get("severity", "")),
        )
        failure.text = _failure_text(finding) if finding else detail
    elif state == "error":
        error = ET.SubElement(case, "error", message=detail or "a lookup failed temporarily; retry later", type="temperror")
        error.text = detail
    elif state == "not_applicable":
        ET.SubElement(case, "skipped", message=detail or "not applicable: the facts this rule judges are absent")
    return state or ""


def _count(suite: ET.Element, states: list[str]) -> None:
    suite.set("tests", str(len(states)))
    suite.set("failures", str(states.count("fail")))
    suite.set("errors", str(states.count("error")))
    suite.set("skipped", str(states.count("not_applicable")))


def build_junit(report: dict) -> ET.Element:
    """Return the <testsuites> element of `report`."""
    root = ET.Element("testsuites", name=ROOT_NAME)
    all_states: list[str] = []

    for (kind, entry), label in zip(iter_subjects(report), subject_labels(report)):
        suite = ET.SubElement(root, "testsuite", name=label)
        # Outcomes carry no message, so the text comes from the finding of the same rule.
        findings = {finding["name"]: finding for finding in entry.get("findings") or []}
        outcomes = entry.get("outcomes") or []
        if kind == "domain":
            # A DNS check never has message headers or SES facts; 40-odd skipped testcases
            # for those rules would bury the DNS results on the CI page.
            outcomes = [outcome for outcome in outcomes if not is_missing_source(outcome)]
        states = [_testcase(suite, label, outcome, findings.get(outcome["name"])) for outcome in outcomes]
        _count(suite, states)
        all_states += states

    errors = report.get("errors") or []
    if errors:
        # An unreadable input is an error of its own testsuite, so CI shows it next to the results.
        suite = ET.SubElement(root, "testsuite", name="input")
        states = []
        for error in errors:
            case = ET.SubElement(suite, "testcase", name=clean(error.get("source", "")), classname="input")
            ET.SubElement(case, "error", message=clean(error.get("message", "")), type="input")
            states.append("error")
        _count(suite, states)
        all_states += states

    _count(root, all_states)
    return root


def render(report: dict, stream: TextIO) -> None:
    """Write `report` as JUnit XML to `stream`."""
    root = build_junit(report)
    ET.indent(root)
    # Serialising to str, ElementTree declares UTF-8, the encoding the CLI writes report files in.
    stream.write(ET.tostring(root, encoding="unicode", xml_declaration=True))
    stream.write("\n")
