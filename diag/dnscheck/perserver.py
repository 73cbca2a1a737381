"""Judge the posture rules on each authoritative nameserver's answers (`maildiag dns --authoritative`).

While a change propagates, a receiver's resolver may reach any of the zone's nameservers, so
a record that is broken on one of them breaks the mail whose lookups reach that server.
Each rule is judged on every server's answers, and the report keeps its worst outcome:
fail, then error, then pass, then not_applicable. A finding that holds on some servers only
names them in its message, and `dns.authoritative.rule_differences` lists every such rule
for dns-authoritative-disagree.
"""

import logging

log = logging.getLogger(__name__)

OUTCOME_RANK = {"not_applicable": 0, "pass": 1, "error": 2, "fail": 3}
# Judged on the comparison itself, which only the first server's facts hold.
DISAGREE_RULE = "dns-authoritative-disagree"


def judge_per_server(rules, facts: dict, others: list[tuple[dict, dict]], evaluate) -> list[dict]:
    """Return one outcome per rule over the answers of every server.

    `facts` holds the first answering server's `dns` facts with `dns.authoritative`;
    `others` pairs each other answering server's fact (`dns.authoritative.servers` item)
    with its `dns` facts. `evaluate` is diag.engine.evaluate.evaluate.
    """
    authoritative = facts["dns"]["authoritative"]
    first = next(server for server in authoritative["servers"] if server["answered"])
    judged = [(first["label"], evaluate(rules, facts))]
    for server, dns_facts in others:
        judged.append((server["label"], evaluate(rules, {"source": facts["source"], "dns": dns_facts})))

    differences = _differences(judged)
    authoritative["rule_differences"] = differences
    if differences:
        # The disagreement finding names the rules whose results differ, so render it again.
        judged[0] = (first["label"], evaluate(rules, facts))
    log.debug("per-server rule results differ for %s", [item["rule"] for item in differences])
    return _merge(judged, {item["rule"]: item for item in differences})


def _differences(judged: list[tuple[str, list[dict]]]) -> list[dict]:
    """Return the rules that fail on the answers of some servers and not on others'."""
    differences = []
    for position, outcome in enumerate(judged[0][1]):
        if outcome["name"] == DISAGREE_RULE:
            continue
        results = [(label, outcomes[position]["outcome"]) for label, outcomes in judged]
        failing = [label for label, result in results if result == "fail"]
        if failing and len(failing) < len(results):
            differences.append({
                "rule": outcome["name"],
                "code": outcome["code"],
                "fails_on": failing,
                "passes_on": [label for label, result in results if result != "fail"],
            })
    return differences


def _merge(judged: list[tuple[str, list[dict]]], differences: dict[str, dict]) -> list[dict]:
    merged = []
    for position, first in enumerate(judged[0][1]):
        if first["name"] == DISAGREE_RULE:
            merged.append(first)
            continue
        worst = max((outcomes[position] for _, outcomes in judged), key=lambda outcome: OUTCOME_RANK.get(outcome["outcome"], 0))
        difference = differences.get(first["name"])
        if difference and worst["outcome"] == "fail":
            worst = dict(worst)
            worst["message"] = (
                f"{worst['message']} Found in the answers of {', '.join(difference['fails_on'])}; "
                f"the answers of {', '.join(difference['passes_on'])} pass this check."
            )
        merged.append(worst)
    return merged
