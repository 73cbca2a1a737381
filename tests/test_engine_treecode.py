"""Generated functions: one per condition tree, one per rule list (compile_judge), one per evidence list."""

import pytest

from diag.engine.conditions import Match, compile_condition, compile_path
from diag.engine.treecode import ERROR, SEPARATE, JudgeEntry, SharedVerdict, compile_evidence, compile_judge, compile_tree

FACTS = {
    "verdicts": {
        "spf": "Pass",
        "spf_aligned": False,
        "dmarc": "FAIL",
        "dkim": [
            {"domain": "amazonses.com", "result": "pass", "aligned": False},
            {"domain": "example.com", "result": "fail", "aligned": True},
        ],
    },
    "microsoft": {"scl": 5, "sfv": "SPM"},
    "received": {"hops": [{"delay_seconds": 2.5}, "not a hop", {"delay_seconds": 900}]},
}

SOME_ALIGNED = {"some": {"path": "verdicts.dkim", "where": {"equals": {"path": "aligned", "value": True}}}}
SOME_SLOW = {"some": {"path": "received.hops", "where": {"gt": {"path": "delay_seconds", "value": 300}}}}


def check(condition: dict, facts=FACTS):
    return compile_tree(compile_condition(condition, "when"))(facts)


def test_tree_boolean_results_exact():
    assert check({"equals": {"path": "verdicts.spf", "value": "pass"}}) is True
    assert check({"equals": {"path": "verdicts.spf", "value": "fail"}}) is False
    assert check({"not": {"exists": "verdicts.spf"}}) is False


def test_tree_all_returns_first_match():
    result = check({"all": [{"exists": "verdicts.spf"}, SOME_ALIGNED, SOME_SLOW]})
    assert isinstance(result, Match)
    assert result.path == "verdicts.dkim.1"


def test_tree_all_after_true_returns_match():
    # A child that is True before a `some` does not hide the some's match.
    result = check({"all": [{"any": [{"exists": "verdicts.spf"}, SOME_SLOW]}, SOME_ALIGNED]})
    assert result is not True
    assert result.path == "verdicts.dkim.1"


def test_tree_all_false_child_is_false():
    assert check({"all": [SOME_ALIGNED, {"exists": "verdicts.absent"}]}) is False


def test_tree_any_returns_first_true_branch():
    result = check({"any": [{"exists": "verdicts.absent"}, SOME_SLOW, SOME_ALIGNED]})
    assert result.path == "received.hops.2"


def test_tree_some_skips_non_dict_items():
    result = check({"some": {"path": "received.hops", "where": {"missing": "delay_seconds"}}})
    assert result.path == "received.hops.1"
    assert result.item == "not a hop"


def test_tree_nested_some():
    facts = {"outer": [{"inner": [{"x": 1}]}, {"inner": [{"x": 7}]}]}
    condition = {"some": {"path": "outer", "where": {"some": {"path": "inner", "where": {"gt": {"path": "x", "value": 5}}}}}}
    assert check(condition, facts).path == "outer.1"


def test_tree_list_index_path():
    assert check({"equals": {"path": "verdicts.dkim.-1.domain", "value": "EXAMPLE.COM"}}) is True
    assert check({"exists": "verdicts.dkim.5.domain"}) is False


def test_tree_root_not_dict():
    assert check({"missing": "verdicts.spf"}, facts=["a list"]) is True
    assert check({"count": {"path": "received.hops", "gte": 0}}, facts=None) is False


def test_tree_shared_casefolded_value():
    # Two string comparisons of one path share one casefolded value; both must still hold.
    condition = {"all": [{"equals": {"path": "verdicts.dmarc", "value": "fail"}}, {"in": {"path": "verdicts.dmarc", "values": ["none", "FAIL"]}}]}
    assert check(condition) is True
    assert check(condition, {"verdicts": {"dmarc": 3}}) is False


def entry(when: dict, applies: dict | None = None, error_when: dict | None = None) -> JudgeEntry:
    def compiled(node):
        return None if node is None else compile_condition(node, "when")

    return JudgeEntry(compiled(error_when), compiled(applies), compiled(when), "not-applicable", "passed")


def judge(entries, facts=FACTS):
    summaries = [None] * 8
    pending = []
    compile_judge(entries)(facts, summaries, pending)
    return summaries, pending


def test_judge_outcomes_in_order():
    entries = [
        (0, entry({"exists": "verdicts.spf"})),
        (2, entry({"exists": "verdicts.absent"})),
        (3, entry({"exists": "verdicts.spf"}, applies={"exists": "verdicts.absent"})),
        (4, entry(SOME_ALIGNED)),
        (5, None),
        (7, entry({"exists": "verdicts.spf"}, applies={"exists": "verdicts.spf"}, error_when={"equals": {"path": "verdicts.spf", "value": "pass"}})),
    ]
    summaries, pending = judge(entries)
    assert summaries == [None, None, "passed", "not-applicable", None, None, None, None]
    assert [index for index, _ in pending] == [0, 4, 5, 7]
    assert pending[0][1] is True
    assert pending[1][1].path == "verdicts.dkim.1"
    assert pending[2][1] is SEPARATE
    assert pending[3][1] is ERROR


def test_judge_error_before_applies():
    entries = [(0, entry({"exists": "verdicts.spf"}, applies={"exists": "verdicts.absent"}, error_when={"exists": "verdicts.dmarc"}))]
    assert judge(entries)[1] == [(0, ERROR)]


@pytest.mark.parametrize("facts", [FACTS, {}, {"verdicts": "text"}, {"verdicts": {"dkim": "text"}}])
def test_judge_matches_tree_checks(facts):
    conditions = [SOME_ALIGNED, SOME_SLOW, {"equals": {"path": "verdicts.spf", "value": "pass"}}, {"not": SOME_ALIGNED}]
    entries = [(index, entry(condition)) for index, condition in enumerate(conditions)]
    summaries, pending = judge(entries, facts)
    for index, condition in enumerate(conditions):
        expected = check(condition, facts)
        if expected is False:
            assert summaries[index] == "passed"
        else:
            assert (index, expected) in pending


def test_judge_shared_verdict_defers():
    # "late" defers to "cause", which fails: late gets the deferral's summary.
    cause = entry({"exists": "verdicts.spf"})
    late = JudgeEntry(None, None, compile_condition({"exists": "verdicts.spf"}, "when"), "not-applicable", "passed", (("cause", "deferred"),))
    summaries = [None] * 2
    pending = []
    compile_judge([(0, SharedVerdict("late")), (1, SharedVerdict("cause"))], [("cause", cause), ("late", late)])(FACTS, summaries, pending)
    assert summaries == ["deferred", None]
    assert pending == [(1, True)]


def test_judge_shared_verdict_target_passes():
    cause = entry({"exists": "verdicts.absent"})
    late = JudgeEntry(None, None, compile_condition(SOME_ALIGNED, "when"), "not-applicable", "passed", (("cause", "deferred"),))
    summaries = [None] * 2
    pending = []
    compile_judge([(0, SharedVerdict("late")), (1, SharedVerdict("cause"))], [("cause", cause), ("late", late)])(FACTS, summaries, pending)
    assert summaries == [None, "passed"]
    assert pending[0][1].path == "verdicts.dkim.1"


def test_judge_shared_verdict_error():
    cause = entry({"exists": "verdicts.spf"}, error_when={"exists": "verdicts.dmarc"})
    late = JudgeEntry(None, None, compile_condition({"exists": "verdicts.spf"}, "when"), "not-applicable", "passed", (("cause", "deferred"),))
    summaries = [None] * 2
    pending = []
    compile_judge([(0, SharedVerdict("late")), (1, SharedVerdict("cause"))], [("cause", cause), ("late", late)])(FACTS, summaries, pending)
    assert pending == [(0, True), (1, ERROR)]


def test_evidence_paths_in_order():
    paths = [compile_path(text, "evidence") for text in ("verdicts.spf", "item.result", "verdicts.absent", "verdicts.dkim.0.domain")]
    evidence = compile_evidence(tuple(paths))
    match = Match({"result": "pass"}, "verdicts.dkim.1")
    assert evidence(FACTS, match) == [
        {"path": "verdicts.spf", "value": FACTS["verdicts"]["spf"]},
        {"path": "verdicts.dkim.1.result", "value": "pass"},
        {"path": "verdicts.dkim.0.domain", "value": FACTS["verdicts"]["dkim"][0]["domain"]},
    ]


@pytest.mark.parametrize("facts", [FACTS, {}, {"verdicts": "text"}, {"verdicts": {"spf": None}}, []])
def test_evidence_matches_resolvers(facts):
    paths = tuple(compile_path(text, "evidence") for text in ("verdicts.spf", "verdicts.dkim.0.domain", "verdicts"))
    expected = [{"path": path.text, "value": path.resolve(facts)} for path in paths if path.resolve(facts) is not None]
    assert compile_evidence(paths)(facts, None) == expected


def test_evidence_item_paths_need_match():
    evidence = compile_evidence((compile_path("item.result", "evidence"),))
    assert evidence(FACTS, None) == []
