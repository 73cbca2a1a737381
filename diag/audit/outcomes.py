"""The reduced rule outcomes that `maildiag audit` writes in JSON and JSON Lines.

`maildiag analyze -f json` lists every rule's outcome. For a saved message without DNS or
SES facts, 60 of the 73 rules are `not_applicable` (samples/audit/eml/ses-m365-0042.eml), so
those entries were most of an audit's output. The audit keeps the outcomes that carry information (`fail`,
already in `findings` in full, and `error`) and replaces the others by
`outcomes_omitted`: the names of the passed rules and the number of not_applicable rules
per reason.
"""

from collections import Counter

# Outcomes kept in full; the others are only named or counted.
KEPT_OUTCOMES = frozenset({"fail", "error"})
REASON_ABSENT = "facts absent"
REASON_DEFERRED = "deferred"
REASON_OTHER = "other"


def reduce_outcomes(message: dict) -> dict:
    """Return a copy of the message report with `outcomes` reduced and `outcomes_omitted` added.

    A report that is already reduced (read back by `audit --merge`) is returned unchanged.
    """
    if "outcomes_omitted" in message:
        return message
    kept = []
    passed = []
    not_applicable = Counter()
    for outcome in message["outcomes"]:
        word = outcome["outcome"]
        if word in KEPT_OUTCOMES:
            kept.append(outcome)
        elif word == "pass":
            passed.append(outcome["name"])
        else:
            not_applicable[not_applicable_reason(outcome)] += 1

    reduced = dict(message)
    reduced["outcomes"] = kept
    reduced["outcomes_omitted"] = {"pass": passed, "not_applicable": dict(sorted(not_applicable.items()))}
    return reduced


def not_applicable_reason(outcome: dict) -> str:
    """Return the reason key of a not_applicable outcome: "needs dns", "needs dns, ses", "facts absent", "deferred" or "other".

    The key comes from the outcome's `reason` and `missing` fields (diag.engine.evaluate);
    an outcome without them counts as "other".
    """
    reason = outcome.get("reason")
    if reason == "needs" and outcome.get("missing"):
        return "needs " + ", ".join(outcome["missing"])
    if reason == "applies-false":
        return REASON_ABSENT
    if reason == "deferred":
        return REASON_DEFERRED
    return REASON_OTHER
