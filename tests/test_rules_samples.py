"""Each rule's own samples, run through the whole pipeline: reader, fact collectors, engine.

A fail sample must make the rule fail, and a pass sample must make it pass (not merely be
not applicable, which would prove nothing). Only message samples are run here; rules whose
samples are zone files or SES account facts are tested with their DNS and SES checks.
"""

from pathlib import Path

import pytest

from diag.engine.loader import load_rules
from diag.pipeline import AnalyzeOptions, analyze_bytes

REPOSITORY = Path(__file__).resolve().parent.parent
MESSAGE_SUFFIXES = {".txt", ".eml", ".hdr"}
RULES = load_rules([])


def sample_cases():
    for rule in RULES:
        if "dns" in rule.needs:
            # Rules on DNS answers run with their zone files in test_verify_rules.py and the DNS check tests.
            continue
        for expected, samples in (("fail", rule.samples_fail), ("pass", rule.samples_pass)):
            for sample in samples:
                if Path(sample).suffix.lower() in MESSAGE_SUFFIXES:
                    yield pytest.param(rule.name, sample, expected, id=f"{rule.name}-{Path(sample).name}")


def outcome_of(rule_name: str, sample: str) -> dict:
    data = (REPOSITORY / sample).read_bytes()
    report = analyze_bytes(data, source=sample, options=AnalyzeOptions(rules=RULES))
    return next(outcome for outcome in report["outcomes"] if outcome["name"] == rule_name)


@pytest.mark.parametrize("rule_name, sample, expected", list(sample_cases()))
def test_rule_sample(rule_name, sample, expected):
    outcome = outcome_of(rule_name, sample)
    assert outcome["outcome"] == expected, outcome.get("detail")


def test_every_message_rule_has_samples():
    names = {case.values[0] for case in sample_cases()}
    header_rules = {rule.name for rule in RULES if set(rule.needs) <= {"headers", "message"}}
    assert header_rules <= names
