"""Evaluate loaded rules over one Facts document and return one outcome per rule.

Outcomes, in the order they are decided:
  not_applicable  a source in `needs` is absent (no DNS facts, no message body, ...)
  error           `error_when` holds: a lookup failed temporarily, so the rule cannot judge
  not_applicable  `applies` is false: the facts the rule judges are absent
  fail            `when` holds; the outcome carries the rendered message and fix steps
  pass            otherwise
"""

import logging
from dataclasses import dataclass
from typing import Any

from diag.engine.conditions import FactPath, Match, resolve_keys
from diag.engine.loader import SOURCES, Rule
from diag.engine.templates import render

log = logging.getLogger(__name__)


def evaluate(rules: list[Rule], facts: dict) -> list[dict]:
    """Return the outcome of every rule over `facts`, in the order of `rules`.

    Fail and error outcomes are those of evaluate_rule. Pass and not_applicable outcomes
    carry only the rule's name, code, title, severity, confidence and category, the
    outcome and its detail: reports list them by name (see pipeline.message_report), and
    their evidence, fix steps and references took most of the evaluation time.
    """
    available = {source: _has_source(facts, source) for source in SOURCES}
    debug = log.isEnabledFor(logging.DEBUG)
    # Rules share a few `needs` lists, so each list is checked once per message. Offline,
    # most rules stop here because they need DNS or SES facts.
    unmet_by_needs: dict[tuple[str, ...], str | None] = {}

    outcomes = []
    for rule in rules:
        needs = rule.needs
        if needs not in unmet_by_needs:
            unmet_by_needs[needs] = _unmet_needs(needs, available)
        unmet = unmet_by_needs[needs]
        if unmet is not None:
            outcome, match, detail = "not_applicable", None, unmet
        else:
            outcome, match, detail = _judge(rule, facts)
        if debug:
            log.debug("rule %s (%s): %s", rule.name, rule.code, outcome)

        if outcome == "fail" or outcome == "error":
            outcomes.append(_result(rule, facts, outcome, match, detail))
            continue
        result = dict(rule.identity)
        result["outcome"] = outcome
        if detail:
            result["detail"] = detail
        outcomes.append(result)
    return outcomes


def evaluate_for_report(rules: list[Rule], facts: dict) -> tuple[list[dict], list[dict]]:
    """Return the fail outcomes of `rules` over `facts` and every rule's report summary.

    The fail outcomes are those evaluate() returns, in rule order. A summary contains the
    keys that outcome_summary keeps (name, code, title, severity, outcome and any detail),
    in the order of `rules`. The summary of a pass or not_applicable outcome depends only
    on the rule and its detail, so it is built once and copied.
    """
    available = tuple(_has_source(facts, source) for source in SOURCES)
    plan = _plan(rules, available)
    # Copies of the summaries of the rules whose sources are absent, made by C code; the
    # entries of the other rules are replaced below.
    summaries = list(map(dict, plan.summaries))
    debug = log.isEnabledFor(logging.DEBUG)
    if debug:
        for summary in plan.summaries:
            if summary:
                log.debug("rule %s (%s): not_applicable", summary["name"], summary["code"])

    findings = []
    for index, rule in plan.judged:
        outcome, match, detail = _judge(rule, facts)
        if debug:
            log.debug("rule %s (%s): %s", rule.name, rule.code, outcome)

        if outcome == "fail" or outcome == "error":
            result = _result(rule, facts, outcome, match, detail)
            if outcome == "fail":
                findings.append(result)
            summaries[index] = outcome_summary(result)
            continue
        summary = rule.report_summaries.get(detail)
        if summary is None:
            summary = rule.report_summaries[detail] = _constant_summary(rule, outcome, detail)
        summaries[index] = dict(summary)
    return findings, summaries


@dataclass(frozen=True)
class _Plan:
    """The rules of one rule list split by whether their `needs` sources are present."""

    rules: tuple[Rule, ...]
    # The not_applicable summary of each rule whose sources are absent, and {} in the
    # places of the other rules.
    summaries: tuple[dict, ...]
    # (position, rule) of each rule whose sources are present.
    judged: tuple[tuple[int, Rule], ...]


# Plans by (id of the rule list, presence of each of SOURCES). A message's sources are
# one of a few combinations, and callers pass the same list for every message.
_plans: dict[tuple[int, tuple[bool, ...]], _Plan] = {}
_MAX_PLANS = 64


def _plan(rules: list[Rule], available: tuple[bool, ...]) -> _Plan:
    key = (id(rules), available)
    plan = _plans.get(key)
    # A list can change between calls, and its id can be reused after it is freed, so
    # the cached plan must hold the same rule objects in the same order. Rule compares by
    # identity (eq=False), so this check is one pass of pointer comparisons.
    if plan is not None and len(plan.rules) == len(rules) and plan.rules == tuple(rules):
        return plan

    present = dict(zip(SOURCES, available))
    summaries = []
    judged = []
    for index, rule in enumerate(rules):
        unmet = _unmet_needs(rule.needs, present)
        if unmet is None:
            judged.append((index, rule))
            summaries.append({})
        else:
            summaries.append(_constant_summary(rule, "not_applicable", unmet))
    plan = _Plan(tuple(rules), tuple(summaries), tuple(judged))
    if len(_plans) >= _MAX_PLANS:
        _plans.clear()
    _plans[key] = plan
    return plan


def _constant_summary(rule: Rule, outcome: str, detail: str | None) -> dict:
    fields = {**rule.identity, "outcome": outcome}
    if detail:
        fields["detail"] = detail
    return outcome_summary(fields)


def outcome_summary(outcome: dict) -> dict:
    """Return the keys of an outcome that reports list for every rule, in report order."""
    try:
        # Built key by key because a dict comprehension with a membership test per key took
        # a quarter of the report step, once for each of about 60 rules per message.
        summary = {
            "name": outcome["name"],
            "code": outcome["code"],
            "title": outcome["title"],
            "severity": outcome["severity"],
            "outcome": outcome["outcome"],
        }
    except KeyError:
        summary = {key: outcome[key] for key in ("name", "code", "title", "severity", "outcome") if key in outcome}
    if "detail" in outcome:
        summary["detail"] = outcome["detail"]
    return summary


def evaluate_rule(rule: Rule, facts: dict) -> dict:
    """Decide one rule's outcome and build its full result, rendering templates only on fail.

    Unlike evaluate, every outcome carries evidence, why and references.
    """
    available = {source: _has_source(facts, source) for source in rule.needs}
    outcome, match, detail = _decide(rule, facts, available)
    log.debug("rule %s (%s): %s", rule.name, rule.code, outcome)
    return _result(rule, facts, outcome, match, detail)


def _result(rule: Rule, facts: dict, outcome: str, match: Match | None, detail: str | None) -> dict[str, Any]:
    result: dict[str, Any] = dict(rule.identity)
    result["outcome"] = outcome
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


def _decide(rule: Rule, facts: dict, available: dict[str, bool]) -> tuple[str, Match | None, str | None]:
    """Return the outcome, the matched list item and the detail; `available` maps each source to its presence."""
    unmet = _unmet_needs(rule.needs, available)
    if unmet is not None:
        return "not_applicable", None, unmet
    return _judge(rule, facts)


def _judge(rule: Rule, facts: dict) -> tuple[str, Match | None, str | None]:
    """Decide the outcome of a rule whose sources are all present."""
    # Conditions are evaluated through their compiled `check` functions, see conditions.py.
    if rule.error_when is not None and rule.error_when.check(facts) is not False:
        return "error", None, f"cannot judge because a lookup failed temporarily: {rule.error_when.description}"

    if rule.applies is not None and rule.applies.check(facts) is False:
        return "not_applicable", None, f"the facts this rule judges are absent: {rule.applies.description} does not hold"

    result = rule.when.check(facts)
    if result is False:
        return "pass", None, None
    return "fail", (None if result is True else result), None


def _unmet_needs(needs: tuple[str, ...], available: dict[str, bool]) -> str | None:
    """Return the not_applicable detail when a source in `needs` is absent, else None."""
    missing = [source for source in needs if not available[source]]
    if missing:
        return f"needs {', '.join(missing)} facts, which this input does not provide"
    return None


def _has_source(facts: dict, source: str) -> bool:
    if source == "headers":
        return "input" in facts
    if source == "message":
        return (facts.get("content") or {}).get("has_body") is True
    if source == "dns" and facts.get("verify") is not None:
        # `maildiag analyze` verification (verify.*) is built from DNS answers too.
        return True
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
            value = resolve_keys(path.keys[1:], match.item)
            reported_path = ".".join([match.path, *path.text.split(".")[1:]])
        else:
            value = path.resolver(facts)
            reported_path = path.text
        if value is not None:
            evidence.append({"path": reported_path, "value": value})
    return evidence
