"""Evaluate loaded rules over one Facts document and return one outcome per rule.

Outcomes, in the order they are decided:
  not_applicable  a source in `needs` is absent (no DNS facts, no message body, ...)
  error           `error_when` holds: a lookup failed temporarily, so the rule cannot judge
  not_applicable  `applies` is false: the facts the rule judges are absent
  fail            `when` holds; the outcome carries the rendered message and fix steps
  pass            otherwise
"""

import logging
from typing import Any

from diag.engine.conditions import FactPath, Match
from diag.engine.loader import Rule
from diag.engine.templates import render

log = logging.getLogger(__name__)


def evaluate(rules: list[Rule], facts: dict) -> list[dict]:
    """Return the outcome of every rule over `facts`, in the order of `rules`."""
    return [evaluate_rule(rule, facts) for rule in rules]


def evaluate_rule(rule: Rule, facts: dict) -> dict:
    """Decide one rule's outcome and build its result, rendering templates only on fail."""
    outcome, match, detail = _decide(rule, facts)
    log.debug("rule %s (%s): %s", rule.name, rule.code, outcome)

    result: dict[str, Any] = {
        "name": rule.name,
        "code": rule.code,
        "title": rule.title,
        "severity": rule.severity,
        "confidence": rule.confidence,
        "category": rule.category,
        "outcome": outcome,
    }
    if detail:
        result["detail"] = detail
    if outcome == "fail":
        item = match.item if match else None
        result["message"] = render(rule.message, facts, item, rule.origin("message")) or rule.title
        fix = [render(step, facts, item, rule.origin(f"fix[{index}]")) for index, step in enumerate(rule.fix)]
        # A step whose template renders empty (an {% if %} that did not hold) is left out.
        result["fix"] = [step for step in fix if step]
    else:
        result["fix"] = []
    result["evidence"] = _evidence(rule.evidence, facts, match)
    result["why"] = rule.why
    result["references"] = [{"title": reference.title, "url": reference.url} for reference in rule.references]
    if rule.known_problems:
        result["known_problems"] = rule.known_problems
    return result


def _decide(rule: Rule, facts: dict) -> tuple[str, Match | None, str | None]:
    missing = [source for source in rule.needs if not _has_source(facts, source)]
    if missing:
        return "not_applicable", None, f"needs {', '.join(missing)} facts, which this input does not provide"

    if rule.error_when is not None and rule.error_when.test(facts)[0]:
        return "error", None, f"cannot judge because a lookup failed temporarily: {rule.error_when.describe()}"

    if rule.applies is not None and not rule.applies.test(facts)[0]:
        return "not_applicable", None, f"the facts this rule judges are absent: {rule.applies.describe()} does not hold"

    holds, match = rule.when.test(facts)
    return ("fail" if holds else "pass"), match, None


def _has_source(facts: dict, source: str) -> bool:
    if source == "headers":
        return "input" in facts
    if source == "message":
        return (facts.get("content") or {}).get("has_body") is True
    return facts.get(source) is not None


def _evidence(paths: tuple[FactPath, ...], facts: dict, match: Match | None) -> list[dict]:
    """Return [{path, value}] for each evidence path that resolves.

    A path starting with `item.` refers to the list item matched by a `some` condition and
    is reported under that item's real path, e.g. `received.hops.2.raw`.
    """
    evidence = []
    for path in paths:
        if path.keys[0] == "item":
            if match is None:
                continue
            value = FactPath(path.text, path.keys[1:]).resolve(match.item) if len(path.keys) > 1 else match.item
            reported_path = ".".join([match.path, *path.text.split(".")[1:]])
        else:
            value = path.resolve(facts)
            reported_path = path.text
        if value is not None:
            evidence.append({"path": reported_path, "value": value})
    return evidence
