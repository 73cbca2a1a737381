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
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from diag.engine.conditions import Match, status_values
from diag.engine.loader import SOURCES, Rule
from diag.engine.templates import rule_template
from diag.engine.treecode import ERROR, JudgeEntry, SharedVerdict, compile_evidence, compile_judge

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
    keys that outcome_summary keeps, in the order of `rules`. Summaries are ReportSummary
    objects, read-only because one object serves every message with the same outcome of
    a rule.
    """
    plan = _plan(rules, _available_sources(facts))
    summaries = list(plan.summaries)
    pending: list[tuple[int, Any]] = []
    plan.judge(facts, summaries, pending)

    findings = []
    for index, result in pending:
        rule = plan.rules[index]
        parts = plan.parts[index]
        if result is ERROR:
            summaries[index] = parts.error_summary(_error_verdict(rule, facts))
        else:
            findings.append(_result(rule, facts, ("fail", None if result is True else result, None, None), parts))
            summaries[index] = parts.fail_summary

    if log.isEnabledFor(logging.DEBUG):
        for summary in summaries:
            log.debug("rule %s (%s): %s", summary["name"], summary["code"], summary["outcome"])
    return findings, summaries


class ReportSummary(dict):
    """A rule's entry in a report's `outcomes`, shared by the messages with the same outcome.

    Copying a dict for each of about 75 rules took about 5 of the 70 µs that rule evaluation
    took per message (timeit, development container), so one object serves every message.
    It cannot be changed: copy it with dict() first. Pickling and copy.copy give a plain dict.
    """

    __slots__ = ()

    def _read_only(self, *args, **kwargs):
        raise TypeError("a report summary is shared between messages and read-only; change a copy made with dict(summary)")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self):
        return (dict, (dict(self),))


class _RuleParts:
    """The parts of one rule's outcomes that depend only on the rule, built once per rule."""

    def __init__(self, rule: Rule):
        self.rule = rule
        self.fail_summary = ReportSummary(outcome_summary({**rule.identity, "outcome": "fail"}))
        self.pass_summary = ReportSummary(outcome_summary({**rule.identity, "outcome": "pass"}))
        # Summaries of the outcomes that are not fail, by their detail (None for pass). The
        # details come from the rule and a few lookup statuses, so there are few of them.
        self.summaries_by_detail: dict[str | None, ReportSummary] = {None: self.pass_summary}
        self.applies_false_summary = None
        if rule.applies is not None:
            self.applies_false_summary = self.constant_summary(_applies_false_verdict(rule))
        # The message and each fix step: the text itself when it has no Jinja2 syntax, else
        # a RuleTemplate that compiles on its first render and is kept with the rule.
        self.message = rule_template(rule.message, rule.origin("message"))
        self.fix = tuple(rule_template(step, rule.origin(f"fix[{index}]")) for index, step in enumerate(rule.fix))
        # Copied for each outcome (dict.copy through map, without a Python frame per list).
        self.references = tuple({"title": reference.title, "url": reference.url} for reference in rule.references)
        # The generated function that lists the evidence (see treecode.compile_evidence),
        # compiled when the rule first fails, since most rules never do in one run.
        self.evidence_function = None

    def constant_summary(self, verdict: Verdict) -> "ReportSummary":
        outcome, _, detail, fields = verdict
        summary = self.summaries_by_detail.get(detail)
        if summary is None:
            summary = self.summaries_by_detail[detail] = ReportSummary(_constant_summary(self.rule, outcome, detail, fields))
        return summary

    error_summary = constant_summary

    def evidence(self, facts: dict, match: Match | None) -> list[dict]:
        function = self.evidence_function
        if function is None:
            function = self.evidence_function = compile_evidence(self.rule.evidence)
        return function(facts, match)


# Parts by rule, for the rules of the lists that evaluate_for_report has seen.
_parts_by_rule: "weakref.WeakKeyDictionary[Rule, _RuleParts]" = weakref.WeakKeyDictionary()


def _rule_parts(rule: Rule) -> _RuleParts:
    parts = _parts_by_rule.get(rule)
    if parts is None:
        parts = _parts_by_rule[rule] = _RuleParts(rule)
    return parts


@dataclass(frozen=True)
class _Plan:
    """The evaluation of one rule list for one combination of present sources."""

    rules: tuple[Rule, ...]
    # The same rules as a list, which compares with the caller's list without a copy.
    rule_list: list[Rule]
    parts: tuple[_RuleParts, ...]
    # The not_applicable summary of each rule whose sources are absent, and None in the
    # places of the other rules, which `judge` or the pending results fill.
    summaries: tuple[ReportSummary | None, ...]
    # See diag.engine.treecode.compile_judge.
    judge: Callable[[Any, list, list], None]
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
    # identity (eq=False), so comparing the plan's copy of the list with the list is one
    # pass of pointer comparisons.
    if plan is not None and plan.rule_list == rules:
        return plan

    present = dict(zip(SOURCES, available))
    parts = tuple(_rule_parts(rule) for rule in rules)
    shared = _shared_verdicts(rules, present)
    summaries = []
    entries: list[tuple[int, JudgeEntry | SharedVerdict]] = []
    for index, (rule, rule_parts) in enumerate(zip(rules, parts)):
        unmet = _needs_verdict(rule.needs, present)
        if unmet is not None:
            summaries.append(rule_parts.constant_summary(unmet))
            continue
        summaries.append(None)
        entries.append((index, SharedVerdict(rule) if rule in shared else _judge_entry(rule, rule_parts, shared)))
    judge = compile_judge(entries, [(rule, _judge_entry(rule, _rule_parts(rule), shared)) for rule in shared])
    plan = _Plan(tuple(rules), list(rules), parts, tuple(summaries), judge, present)
    if len(_plans) >= _MAX_PLANS:
        _plans.clear()
    _plans[key] = plan
    return plan


def _shared_verdicts(rules: list[Rule], present: dict[str, bool]) -> dict[Rule, None]:
    """Return the rules whose verdict a rule of `rules` defers on, and the rules that defer.

    Each comes after the rules it defers to (the loader rejects cycles), and only rules
    whose sources are present are included: the others cannot fail.
    """
    ordered: dict[Rule, None] = {}

    def add(rule: Rule) -> None:
        if rule in ordered or _needs_verdict(rule.needs, present) is not None:
            return
        for target in rule.deferral_targets:
            add(target)
        ordered[rule] = None

    for rule in rules:
        if rule.deferral_targets:
            add(rule)
    return ordered


def _judge_entry(rule: Rule, parts: "_RuleParts", shared: dict[Rule, None]) -> JudgeEntry:
    # Deferring to a rule whose sources are absent never applies: that rule cannot fail.
    deferrals = tuple((target, parts.constant_summary(_deferred_verdict(target))) for target in rule.deferral_targets if target in shared)
    return JudgeEntry(rule.error_when, rule.applies, rule.when, parts.applies_false_summary, parts.pass_summary, deferrals)


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


def _result(rule: Rule, facts: dict, verdict: Verdict, parts: "_RuleParts | None" = None) -> dict[str, Any]:
    outcome, match, detail, fields = verdict
    if parts is None:
        parts = _rule_parts(rule)
    result: dict[str, Any] = dict(rule.identity)
    result["outcome"] = outcome
    if detail:
        result["detail"] = detail
    if fields:
        result.update(fields)
    if outcome == "fail":
        item = match.item if match else None
        message = parts.message
        result["message"] = (message if type(message) is str else message.render(facts, item)) or rule.title
        fix = []
        for step in parts.fix:
            if type(step) is not str:
                step = step.render(facts, item)
            # A step whose template renders empty (an {% if %} that did not hold) is left out.
            if step:
                fix.append(step)
        result["fix"] = fix
    else:
        result["fix"] = []
    result["evidence"] = parts.evidence(facts, match)
    result["why"] = rule.why
    result["references"] = list(map(dict.copy, parts.references))
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
            return _deferred_verdict(target)

    if rule.applies is not None and rule.applies.check(facts) is False:
        return _applies_false_verdict(rule)

    result = rule.when.check(facts)
    if result is False:
        return _PASS
    return "fail", (None if result is True else result), None, None


def _deferred_verdict(target: Rule) -> Verdict:
    detail = f"{target.name} failed for the same facts and explains them, so this rule defers to it"
    return "not_applicable", None, detail, {"reason": REASON_DEFERRED, "deferred_to": target.name}


def _applies_false_verdict(rule: Rule) -> Verdict:
    description = rule.applies.description
    detail = f"the facts this rule judges are absent: {description} does not hold"
    return "not_applicable", None, detail, {"reason": REASON_APPLIES_FALSE, "condition": description}


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


def _available_sources(facts: dict) -> tuple[bool, ...]:
    """Return whether each of SOURCES is present, in SOURCES order, as _has_source decides.

    Written out because evaluate_for_report runs it for every message.
    """
    return (
        "input" in facts,
        (facts.get("content") or {}).get("has_body") is True,
        facts.get("verify") is not None or facts.get("dns") is not None,
        facts.get("ses") is not None,
    )


def _has_source(facts: dict, source: str) -> bool:
    if source == "headers":
        return "input" in facts
    if source == "message":
        return (facts.get("content") or {}).get("has_body") is True
    if source == "dns" and facts.get("verify") is not None:
        # `maildiag analyze` verification (verify.*) is built from DNS answers too.
        return True
    return facts.get(source) is not None
