"""Pytest cases from the samples that rule files list: one case per rule, sample and outcome."""

from pathlib import Path

import pytest


def sample_cases(rules):
    """Yield pytest.param(rule name, sample path, expected outcome) for each listed sample."""
    for rule in rules:
        for expected, samples in (("fail", rule.samples_fail), ("pass", rule.samples_pass)):
            for sample in samples:
                yield pytest.param(rule.name, sample, expected, id=f"{rule.name}-{Path(sample).name}")
