"""Condition operators and their validation, over hand-built facts."""

import pytest

from diag.engine.conditions import ConditionError, compile_condition, compile_path

FACTS = {
    "verdicts": {
        "spf": "Pass",
        "spf_aligned": False,
        "dkim": [
            {"domain": "amazonses.com", "result": "pass", "aligned": False},
            {"domain": "example.com", "result": "fail", "aligned": True},
        ],
        "compauth_reason": "001",
    },
    "microsoft": {"scl": 5, "bcl": 0, "sfv": "SPM"},
    "received": {"hops": [{"delay_seconds": 2.5}, {"delay_seconds": -4}], "plain_hops": []},
}


def holds(condition: dict, facts: dict = FACTS) -> bool:
    return compile_condition(condition, "when").test(facts)[0]


def test_path_resolves_nested_key():
    assert compile_path("verdicts.spf", "when").resolve(FACTS) == "Pass"


def test_path_resolves_list_index():
    assert compile_path("verdicts.dkim.1.domain", "when").resolve(FACTS) == "example.com"


def test_path_negative_index_counts_from_end():
    assert compile_path("received.hops.-1.delay_seconds", "when").resolve(FACTS) == -4


def test_path_index_out_of_range_is_absent():
    assert compile_path("verdicts.dkim.5.domain", "when").resolve(FACTS) is None


def test_path_through_scalar_is_absent():
    assert compile_path("verdicts.spf.result", "when").resolve(FACTS) is None


def test_exists_and_missing():
    assert holds({"exists": "verdicts.spf"})
    assert not holds({"exists": "verdicts.dmarc"})
    assert holds({"missing": "verdicts.dmarc"})
    assert not holds({"missing": "verdicts.spf"})


def test_exists_false_value_is_present():
    assert holds({"exists": "verdicts.spf_aligned"})


def test_equals_string_ignores_case():
    assert holds({"equals": {"path": "verdicts.spf", "value": "pass"}})


def test_equals_boolean_not_number():
    assert holds({"equals": {"path": "verdicts.spf_aligned", "value": False}})
    assert not holds({"equals": {"path": "microsoft.bcl", "value": False}})


def test_equals_number_not_string():
    assert holds({"equals": {"path": "microsoft.scl", "value": 5}})
    assert not holds({"equals": {"path": "verdicts.compauth_reason", "value": 1}})


def test_equals_absent_is_false():
    assert not holds({"equals": {"path": "verdicts.dmarc", "value": "fail"}})


def test_in_matches_one_value():
    assert holds({"in": {"path": "microsoft.sfv", "values": ["spm", "blk"]}})
    assert not holds({"in": {"path": "microsoft.sfv", "values": ["NSPM"]}})


@pytest.mark.parametrize(
    "operator, value, expected",
    [("gt", 4, True), ("gt", 5, False), ("gte", 5, True), ("lt", 6, True), ("lt", 5, False), ("lte", 5, True)],
)
def test_comparison(operator, value, expected):
    assert holds({operator: {"path": "microsoft.scl", "value": value}}) is expected


def test_comparison_absent_is_false():
    assert not holds({"lt": {"path": "microsoft.missing", "value": 100}})


def test_comparison_string_is_false():
    assert not holds({"gte": {"path": "verdicts.compauth_reason", "value": 0}})


def test_comparison_boolean_is_false():
    assert not holds({"lt": {"path": "verdicts.spf_aligned", "value": 1}})


def test_matches_searches_case_insensitively():
    assert holds({"matches": {"path": "verdicts.spf", "pattern": "^PA"}})
    assert not holds({"matches": {"path": "verdicts.spf", "pattern": "fail"}})


def test_matches_non_string_is_false():
    assert not holds({"matches": {"path": "microsoft.scl", "pattern": "5"}})


def test_all_any_not():
    spf = {"equals": {"path": "verdicts.spf", "value": "pass"}}
    junk = {"gte": {"path": "microsoft.scl", "value": 7}}
    assert not holds({"all": [spf, junk]})
    assert holds({"any": [spf, junk]})
    assert holds({"not": junk})


def test_some_returns_first_match_and_path():
    condition = compile_condition(
        {"some": {"path": "verdicts.dkim", "where": {"equals": {"path": "aligned", "value": True}}}}, "when"
    )
    holds_, match = condition.test(FACTS)
    assert holds_
    assert match.item["domain"] == "example.com"
    assert match.path == "verdicts.dkim.1"


def test_some_on_non_list_is_false():
    assert not holds({"some": {"path": "verdicts.spf", "where": {"exists": "domain"}}})


def test_some_under_not_gives_no_item():
    condition = compile_condition(
        {"not": {"some": {"path": "verdicts.dkim", "where": {"equals": {"path": "result", "value": "none"}}}}}, "when"
    )
    assert condition.test(FACTS) == (True, None)


def test_any_keeps_item_of_true_branch():
    condition = compile_condition(
        {"any": [
            {"some": {"path": "received.hops", "where": {"gt": {"path": "delay_seconds", "value": 300}}}},
            {"some": {"path": "received.hops", "where": {"lt": {"path": "delay_seconds", "value": 0}}}},
        ]},
        "when",
    )
    holds_, match = condition.test(FACTS)
    assert holds_
    assert match.path == "received.hops.1"


def test_count_bounds():
    assert holds({"count": {"path": "verdicts.dkim", "gte": 2, "lte": 2}})
    assert holds({"count": {"path": "received.plain_hops", "equals": 0}})
    assert not holds({"count": {"path": "verdicts.dkim", "gt": 2}})


def test_count_absent_list_is_false():
    assert not holds({"count": {"path": "received.slow_hops", "lte": 0}})


@pytest.mark.parametrize(
    "condition, message",
    [
        (
            {"eq": {"path": "verdicts.spf", "value": "pass"}},
            "field 'when': expected one operator of all, any, not, exists, missing, equals, in, gt, gte, lt, lte, matches, some, count, found 'eq'",
        ),
        (
            {"exists": "verdicts.spf", "missing": "verdicts.dmarc"},
            "field 'when': expected a mapping with exactly one operator of all, any, not, exists, missing, equals, in, gt, gte, lt, lte, matches, some, count, found a mapping with exists, missing",
        ),
        (
            {"equals": "verdicts.spf"},
            "field 'when.equals': expected a mapping with 'path' and 'value', found 'verdicts.spf'",
        ),
        (
            {"equals": {"path": "verdicts.spf"}},
            "field 'when.equals.value': expected a value (the key is required), found nothing",
        ),
        (
            {"equals": {"path": "verdicts.spf", "value": "pass", "ignore_case": True}},
            "field 'when.equals.ignore_case': expected only the keys path, value, found 'ignore_case'",
        ),
        (
            {"gt": {"path": "microsoft.scl", "value": "5"}},
            "field 'when.gt.value': expected a number, found '5'",
        ),
        (
            {"in": {"path": "microsoft.sfv", "values": []}},
            "field 'when.in.values': expected a non-empty list of values, found a list of 0 item(s)",
        ),
        (
            {"matches": {"path": "verdicts.spf", "pattern": "(unclosed"}},
            "field 'when.matches.pattern': expected a valid Python regular expression (missing ), unterminated subpattern at position 0), found '(unclosed'",
        ),
        (
            {"all": []},
            "field 'when.all': expected a non-empty list of conditions, found a list of 0 item(s)",
        ),
        (
            {"any": [{"exists": "verdicts..spf"}]},
            "field 'when.any[0].exists': expected a dotted fact path of names and list indexes such as 'received.hops.0.from', found 'verdicts..spf'",
        ),
        (
            {"count": {"path": "verdicts.dkim"}},
            "field 'when.count': expected 'path' and at least one of gt, gte, lt, lte, equals, found a mapping with path",
        ),
        (
            {"count": {"path": "verdicts.dkim", "gte": -1}},
            "field 'when.count.gte': expected a whole number of 0 or more, found -1",
        ),
        (
            {"some": {"path": "verdicts.dkim", "where": {"equal": {"path": "result", "value": "pass"}}}},
            "field 'when.some.where': expected one operator of all, any, not, exists, missing, equals, in, gt, gte, lt, lte, matches, some, count, found 'equal'",
        ),
    ],
)
def test_invalid_condition_message(condition, message):
    with pytest.raises(ConditionError) as raised:
        compile_condition(condition, "when")
    assert str(raised.value) == message


def test_describe_reads_like_yaml():
    condition = compile_condition(
        {"all": [{"equals": {"path": "verdicts.spf_aligned", "value": False}}, {"gte": {"path": "microsoft.scl", "value": 5}}]},
        "when",
    )
    assert condition.describe() == "all of (verdicts.spf_aligned equals false; microsoft.scl >= 5)"
