"""The reduced rule outcomes that `maildiag audit` writes in JSON and JSON Lines.

`maildiag analyze -f json` lists every rule's outcome. For a saved message without DNS or
SES facts, 60 of the 73 rules are `not_applicable` (samples/audit/eml/ses-m365-0042.eml), so
those entries were most of an audit's output. The audit keeps the outcomes that carry information (`fail`,
already in `findings` in full, and `error`) and replaces the others by
`outcomes_omitted`: the names of the passed rules and the number of not_applicable rules
per reason.
"""

import re
from collections import Counter

# Outcomes kept in full; the others are only named or counted.
KEPT_OUTCOMES = frozenset({"fail", "error"})
# The details that diag.engine.evaluate writes for not_applicable outcomes.
_NEEDS = re.compile(r"needs (?P<sources>[a-z_, ]+) facts\b")
_ABSENT_PREFIX = "the facts this rule judges are absent"
REASON_ABSENT = "facts absent"
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
            not_applicable[not_applicable_reason(outcome.get("detail"))] += 1

    reduced = dict(message)
    reduced["outcomes"] = kept
    reduced["outcomes_omitted"] = {"pass": passed, "not_applicable": dict(sorted(not_applicable.items()))}
    return reduced


def not_applicable_reason(detail: str | None) -> str:
    """Return the reason key of a not_applicable detail: "needs dns", "needs dns, ses", "facts absent" or "other"."""
    # NOTE: the engine's outcomes carry the reason only as text, so the key is read from
    # its wording; a detail worded otherwise counts as "other".
    if not detail:
        return REASON_OTHER
    needs = _NEEDS.match(detail)
    if needs:
        return "needs " + needs.group("sources").strip()
    if detail.startswith(_ABSENT_PREFIX):
        return REASON_ABSENT
    return REASON_OTHER
