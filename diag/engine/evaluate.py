"""Evaluate loaded rules over one Facts document and return one outcome per rule.

Outcomes, in the order they are decided, with the `reason` field each one carries:
  not_applicable  a source in `needs` is absent (no DNS facts, no message body, ...):
                  reason "needs" and `missing`, the absent sources
  error           `error_when` holds, so the rule cannot judge: reason "temperror",
                  "denied" or "lookup-failed", read from the facts that made it hold
  not_applicable  a rule named in `defer_to` fails for the same facts: reason "deferred"
                  and `deferred_to`, the first such rule
  not_applicable  `applies` is false: reason "applies-false" and `condition`, the
                  condition that did not hold
  fail            `when` holds; the outcome carries the rendered message and fix steps
  pass            otherwise
"""

import logging
from dataclasses import dataclass
from typing import Any

from diag.engine.conditions import FactPath, Match, resolve_keys, status_values
from diag.engine.loader import SOURCES, Rule
from diag.engine.templates import render

log = logging.getLogger(__name__)

# Values of the `reason` field of not_applicable and error outcomes.
REASON_NEEDS = "needs"
REASON_DEFERRED = "deferred"
REASON_APPLIES_FALSE = "applies-false"
REASON_TEMPERROR = "temperror"
REASON_DENIED = "denied"
REASON_LOOKUP_FAILED = "lookup-failed"

# Lookup statuses that make an `error_when` hold, as the fact modules write them: `denied`
# and `error` for AWS calls (ses.lookups), `temperror` for DNS and AWS alike.
_LOOKUP_STATUSES = frozenset({"temperror", "denied", "error"})
_ERROR_WORDING = {
    REASON_TEMPERROR: "a lookup failed temporarily",
    REASON_DENIED: "a lookup was denied for lack of permission",
    REASON_LOOKUP_FAILED: "a lookup failed",
}

# A decided rule: the outcome, the matched list item, the detail text and the structured
# fields (reason, missing, deferred_to, condition) that the outcome carries, or None.
Verdict = tuple[str, "Match | None", "str | None", "dict | None"]
_PASS: Verdict = ("pass", None, None, None)


def evaluate(rules: list[Rule], facts: dict) -> list[dict]:
    """Return the outcome of every rule over `facts`, in the order of `rules`.

    Fail and error outcomes are those of evaluate_rule. Pass and not_applicable outcomes
    carry only the rule's name, code, title, severity, confidence and category, the
    outcome, its detail and its structured fields. Reports list them by name (see
    pipeline.message_report), and their evidence, fix steps and references took most of
    the evaluation time.
    """
    present = {source: _has_source(facts, source) for source in SOURCES}
    debug = log.isEnabledFor(logging.DEBUG)
    # Rules share a few `needs` lists, so each list is checked once per message. Offline,
    # most rules stop here because they need DNS or SES facts.
    unmet_by_needs: dict[tuple[str, ...], Verdict | None] = {}
    decided: dict[Rule, Verdict] = {}

    outcomes = []
    for rule in rules:
        needs = rule.needs
        if needs not in unmet_by_needs:
            unmet_by_needs[needs] = _needs_verdict(needs, present)
        verdict = unmet_by_needs[needs] or decided.get(rule) or _judge(rule, facts, present, decided)
        outcome, match, detail, fields = verdict
        if debug:
            log.debug("rule %s (%s): %s", rule.name, rule.code, outcome)

        if outcome == "fail" or outcome == "error":
            outcomes.append(_result(rule, facts, verdict))
            continue
        result = dict(rule.identity)
        result["outcome"] = outcome
        if detail:
            result["detail"] = detail
        if fields:
            result.update(fields)
        outcomes.append(result)
    return outcomes


def evaluate_for_report(rules: list[Rule], facts: dict) -> tuple[list[dict], list[dict]]:
    """Return the fail outcomes of `rules` over `facts` and every rule's report summary.

    The fail outcomes are those evaluate() returns, in rule order. A summary contains the
    keys that outcome_summary keeps, in the order of `rules`. The summary of a pass or
    not_applicable outcome depends only on the rule and its detail, so it is built once
    and copied.
    """
    available = tuple(_has_source(facts, source) for source in SOURCES)
    plan = _plan(rules, available)
    # Copies of the summaries of the rules whose sources are absent, made by C code; the
    # entries of the other rules are replaced below.
    # The copies share the plan's `missing` lists, which nothing changes.
    summaries = list(map(dict, plan.summaries))
    debug = log.isEnabledFor(logging.DEBUG)
    if debug:
        for summary in plan.summaries:
            if summary:
                log.debug("rule %s (%s): not_applicable", summary["name"], summary["code"])

    present = plan.present
    decided: dict[Rule, Verdict] = {}
    findings = []
    for index, rule in plan.judged:
        # A rule that another rule defers to may have been decided already, for that rule.
        verdict = decided.get(rule) or _judge(rule, facts, present, decided)
        outcome, match, detail, fields = verdict
        if debug:
            log.debug("rule %s (%s): %s", rule.name, rule.code, outcome)

        if outcome == "fail" or outcome == "error":
            result = _result(rule, facts, verdict)
            if outcome == "fail":
                findings.append(result)
            summaries[index] = outcome_summary(result)
            continue
        summary = rule.report_summaries.get(detail)
        if summary is None:
            summary = rule.report_summaries[detail] = _constant_summary(rule, outcome, detail, fields)
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
    # Presence of each of SOURCES, by source.
    present: dict[str, bool]


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
        unmet = _needs_verdict(rule.needs, present)
        if unmet is None:
            judged.append((index, rule))
            summaries.append({})
        else:
            outcome, _, detail, fields = unmet
            summaries.append(_constant_summary(rule, outcome, detail, fields))
    plan = _Plan(tuple(rules), tuple(summaries), tuple(judged), present)
    if len(_plans) >= _MAX_PLANS:
        _plans.clear()
    _plans[key] = plan
    return plan


def _constant_summary(rule: Rule, outcome: str, detail: str | None, fields: dict | None) -> dict:
    summary = {**rule.identity, "outcome": outcome}
    if detail:
        summary["detail"] = detail
    if fields:
        summary.update(fields)
    return outcome_summary(summary)


# The structured fields of not_applicable and error outcomes, in report order.
_REASON_FIELDS = ("reason", "missing", "deferred_to", "condition")


def outcome_summary(outcome: dict) -> dict:
    """Return the keys of an outcome that reports list for every rule, in report order.

    The keys are name, code, title, severity, category, outcome, and those of detail,
    reason, missing, deferred_to and condition that the outcome has.
    """
    try:
        # Built key by key because a dict comprehension with a membership test per key took
        # a quarter of the report step, once for each of about 60 rules per message.
        summary = {
            "name": outcome["name"],
            "code": outcome["code"],
            "title": outcome["title"],
            "severity": outcome["severity"],
            "category": outcome["category"],
            "outcome": outcome["outcome"],
        }
    except KeyError:
        summary = {key: outcome[key] for key in ("name", "code", "title", "severity", "category", "outcome") if key in outcome}
    if "detail" in outcome:
        summary["detail"] = outcome["detail"]
        # Only not_applicable and error outcomes carry a detail and the fields.
        for key in _REASON_FIELDS:
            if key in outcome:
                summary[key] = outcome[key]
    return summary


def evaluate_rule(rule: Rule, facts: dict) -> dict:
    """Decide one rule's outcome and build its full result, rendering templates only on fail.

    Unlike evaluate, every outcome carries evidence, why and references. The rules named
    in its `defer_to` are decided too, but only to learn whether they fail.
    """
    present = {source: _has_source(facts, source) for source in SOURCES}
    verdict = _decided(rule, facts, present, {})
    log.debug("rule %s (%s): %s", rule.name, rule.code, verdict[0])
    return _result(rule, facts, verdict)


def _result(rule: Rule, facts: dict, verdict: Verdict) -> dict[str, Any]:
    outcome, match, detail, fields = verdict
    result: dict[str, Any] = dict(rule.identity)
    result["outcome"] = outcome
    if detail:
        result["detail"] = detail
    if fields:
        result.update(fields)
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


def _decided(rule: Rule, facts: dict, present: dict[str, bool], decided: dict[Rule, Verdict]) -> Verdict:
    """Return the verdict of a rule named in `defer_to`, deciding it once per message.

    `decided` keeps the verdicts of such rules, so that each is judged once per message.
    """
    verdict = decided.get(rule)
    if verdict is None:
        verdict = _needs_verdict(rule.needs, present) or _judge(rule, facts, present, decided)
        decided[rule] = verdict
    return verdict


def _judge(rule: Rule, facts: dict, present: dict[str, bool], decided: dict[Rule, Verdict]) -> Verdict:
    """Decide the outcome of a rule whose sources are all present."""
    # Conditions are evaluated through their compiled `check` functions, see conditions.py.
    if rule.error_when is not None and rule.error_when.check(facts) is not False:
        return _error_verdict(rule, facts)

    # The loader rejects a cycle of `defer_to`, so this recursion ends.
    for target in rule.deferral_targets:
        if _decided(target, facts, present, decided)[0] == "fail":
            detail = f"{target.name} failed for the same facts and explains them, so this rule defers to it"
            return "not_applicable", None, detail, {"reason": REASON_DEFERRED, "deferred_to": target.name}

    if rule.applies is not None and rule.applies.check(facts) is False:
        description = rule.applies.description
        detail = f"the facts this rule judges are absent: {description} does not hold"
        return "not_applicable", None, detail, {"reason": REASON_APPLIES_FALSE, "condition": description}

    result = rule.when.check(facts)
    if result is False:
        return _PASS
    return "fail", (None if result is True else result), None, None


def _error_verdict(rule: Rule, facts: dict) -> Verdict:
    """Return the error verdict of a rule whose `error_when` holds, naming the kind of failure.

    The kind comes from the lookup statuses that `error_when` compared and found: a denied
    AWS call is no temporary failure, and retrying does not help until a policy allows it.
    """
    statuses = status_values(rule.error_when, facts, _LOOKUP_STATUSES)
    if "denied" in statuses:
        reason = REASON_DENIED
    elif "error" in statuses:
        reason = REASON_LOOKUP_FAILED
    else:
        # Statuses of DNS lookups (`temperror`), and conditions such as `dns.temperror`
        # equals true that name no status.
        reason = REASON_TEMPERROR
    detail = f"cannot judge because {_ERROR_WORDING[reason]}: {rule.error_when.description}"
    return "error", None, detail, {"reason": reason}


def _needs_verdict(needs: tuple[str, ...], present: dict[str, bool]) -> Verdict | None:
    """Return the not_applicable verdict when a source in `needs` is absent, else None."""
    missing = [source for source in needs if not present[source]]
    if not missing:
        return None
    detail = f"needs {', '.join(missing)} facts, which this input does not provide"
    return "not_applicable", None, detail, {"reason": REASON_NEEDS, "missing": missing}


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
