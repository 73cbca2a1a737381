"""Compile and evaluate the condition trees of rule files (`applies`, `when`, `error_when`).

A condition is a mapping with exactly one operator (see docs/rules.md). Compiling checks
the tree once, at load time, and turns it into a `Condition` object. Its `test(facts)`
returns `(holds, match)`, where `match` is the first list item that satisfied a `some`
together with the item's fact path, so that messages and evidence can name it. The rule
engine calls the node's `check` function instead, which returns the same result without
building the tuple (see Check below). `check` is the whole tree written out as one
Python function, generated on first use by diag.engine.treecode.
"""

import functools
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from operator import eq, ge, gt, le, lt
from typing import Any, Callable

# Fact paths are dotted names; a numeric segment (negative counts from the end) selects
# a list item, as in `received.hops.0.from`.
_SEGMENT = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_-]*|-?[0-9]+)$")

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "gt": gt,
    "gte": ge,
    "lt": lt,
    "lte": le,
}
# `count` also accepts `equals` for an exact length.
COUNT_COMPARISONS = {**COMPARISONS, "equals": eq}
# Python operators of COUNT_COMPARISONS, for the generated leaf checks.
_SYMBOLS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "equals": "=="}

OPERATORS = ("all", "any", "not", "exists", "missing", "equals", "in", *COMPARISONS, "matches", "some", "count")


class ConditionError(ValueError):
    """A condition that does not follow the grammar; the loader adds the file name."""

    def __init__(self, field: str, expected: str, found: Any):
        self.field = field
        self.expected = expected
        self.found = found
        super().__init__(f"field '{field}': expected {expected}, found {describe_found(found)}")


def describe_found(value: Any) -> str:
    """Return a short rendering of a YAML value for an error message."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        keys = ", ".join(str(key) for key in value) or "no keys"
        return f"a mapping with {keys}"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def literal(value: Any) -> str:
    """Return a condition value as it is written in YAML: true, 7, 'pass'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class Match:
    """The list item that satisfied a `some` condition, and the fact path it sits at."""

    item: Any
    path: str


Result = tuple[bool, Match | None]

# ---------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class FactPath:
    text: str
    keys: tuple[str | int, ...]
    # `resolve` without the method call, built once from `keys`; see _make_resolver.
    resolver: Callable[[Any], Any] = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "resolver", _make_resolver(self.keys))

    def resolve(self, root: Any) -> Any:
        """Return the value at this path under `root`, or None when any step is absent."""
        return self.resolver(root)


def _make_resolver(keys: tuple[str | int, ...]) -> Callable[[Any], Any]:
    """Build a function that walks `keys` from a root value, as FactPath.resolve documents.

    Rules resolve about a hundred paths per message, so paths of one to three names, the
    usual ones, get straight-line functions without the loop.
    """
    if not all(isinstance(key, str) for key in keys):
        return functools.partial(resolve_keys, keys)

    if len(keys) == 1:
        (first,) = keys

        def resolve_one(root):
            return root.get(first) if isinstance(root, dict) else None

        return resolve_one

    if len(keys) == 2:
        first, second = keys

        def resolve_two(root):
            if isinstance(root, dict):
                value = root.get(first)
                if isinstance(value, dict):
                    return value.get(second)
            return None

        return resolve_two

    if len(keys) == 3:
        first, second, third = keys

        def resolve_three(root):
            if isinstance(root, dict):
                value = root.get(first)
                if isinstance(value, dict):
                    value = value.get(second)
                    if isinstance(value, dict):
                        return value.get(third)
            return None

        return resolve_three

    return functools.partial(resolve_keys, keys)


def resolve_keys(keys: tuple[str | int, ...], root: Any) -> Any:
    """Return the value at `keys` under `root`, or None when any step is absent."""
    value = root
    for key in keys:
        if isinstance(key, int):
            if not isinstance(value, list) or not -len(value) <= key < len(value):
                return None
            value = value[key]
        elif isinstance(value, dict):
            value = value.get(key)
        else:
            return None
        if value is None:
            return None
    return value


def compile_path(text: Any, field: str) -> FactPath:
    """Check the syntax of a dotted fact path and split it into keys."""
    if not isinstance(text, str) or not text:
        raise ConditionError(field, "a dotted fact path such as 'verdicts.dmarc'", text)
    segments = text.split(".")
    if not all(_SEGMENT.match(segment) for segment in segments):
        raise ConditionError(field, "a dotted fact path of names and list indexes such as 'received.hops.0.from'", text)
    keys = tuple(int(segment) if segment.lstrip("-").isdigit() else segment for segment in segments)
    return FactPath(text, keys)


# ------------------------------------------------------------------------ value tests


def _is_number(value: Any) -> bool:
    # bool is an int subclass in Python, but `true > 4` is no meaningful fact comparison.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(fact: Any, expected: Any) -> bool:
    """Compare like `equals`: strings case-insensitively, booleans only with booleans."""
    if isinstance(expected, str):
        return isinstance(fact, str) and fact.casefold() == expected.casefold()
    if isinstance(expected, bool) or isinstance(fact, bool):
        return isinstance(fact, bool) and isinstance(expected, bool) and fact is expected
    if _is_number(expected):
        return _is_number(fact) and fact == expected
    return fact == expected


# ------------------------------------------------------------------------ conditions

# Each node's `check` function takes the facts (or, under `some`, a list item) and returns
# False when the condition does not hold, and True or the Match of a `some` when it holds.
# A Match is truthy, so `all` and `any` pass it up unchanged. Evaluating through `check`
# instead of `test` avoids building a (holds, match) tuple.
Check = Callable[[Any], "bool | Match"]


class Condition:
    """A compiled condition node."""

    @functools.cached_property
    def check(self) -> Check:
        """This node's tree as one generated function, built on first use.

        Rules judge about a hundred conditions per message, and one function per tree
        makes no Python call per node. Building it on first use keeps start-up free of
        the trees of rules that never run (offline, the DNS and SES rules).
        """
        from diag.engine.treecode import compile_tree

        return compile_tree(self)

    def test(self, facts: Any) -> Result:
        result = self.check(facts)
        if result is False:
            return False, None
        return True, (None if result is True else result)

    @functools.cached_property
    def description(self) -> str:
        """The result of describe(), computed once: outcome details repeat it per message."""
        return self.describe()

    def describe(self) -> str:
        """Return the condition as one line of text, for `maildiag rules explain`."""
        raise NotImplementedError


class Leaf(Condition):
    """A node that tests the value at one fact path.

    `test` is a Python expression with `{fact}` for the value at `path` and `{NAME}` for
    each entry of `constants`. It returns exactly True or False. The tree compiler
    evaluates the first `{fact}` of a test before any other, so each test names `{fact}`
    first.
    """

    path: FactPath
    test_source: str
    constants: dict[str, Any]
    # The same test over `{folded_fact}`: the value casefolded when it is a string, else None.
    # Only tests that compare casefolded strings have one. The tree compiler uses it when
    # several tests read the same value.
    folded_test_source: str | None = None


class AllOf(Condition):
    def __init__(self, children: list[Condition]):
        self.children = children

    def describe(self):
        return "all of (" + "; ".join(child.describe() for child in self.children) + ")"


class AnyOf(Condition):
    def __init__(self, children: list[Condition]):
        self.children = children

    def describe(self):
        return "any of (" + "; ".join(child.describe() for child in self.children) + ")"


class Not(Condition):
    # An item that satisfied a `some` under `not` made the condition false, so it is never
    # the item a message should talk about: `not` returns True or False, never a Match.
    def __init__(self, child: Condition):
        self.child = child

    def describe(self):
        return f"not ({self.child.describe()})"


class Exists(Leaf):
    def __init__(self, path: FactPath, present: bool):
        self.path = path
        self.present = present
        self.test_source = "{fact} is not None" if present else "{fact} is None"
        self.constants = {}

    def describe(self):
        return f"{self.path.text} is {'present' if self.present else 'absent'}"


class Equals(Leaf):
    def __init__(self, path: FactPath, values: list[Any], operator: str):
        self.path = path
        self.values = values
        self.operator = operator
        if all(isinstance(value, str) for value in values):
            # The usual case, compared as _same compares strings: one casefold per message.
            self.test_source = "isinstance({fact}, str) and {fact}.casefold() in {folded}"
            # `folded` contains only strings, so a None for a fact that is no string is not in it.
            self.folded_test_source = "{folded_fact} in {folded}"
            self.constants = {"folded": frozenset(value.casefold() for value in values)}
        elif len(values) == 1 and isinstance(values[0], bool):
            # _same compares a boolean only with a boolean, and True and False are singletons.
            self.test_source = "{fact} is {expected}"
            self.constants = {"expected": values[0]}
        else:
            def same_as_one(fact):
                return any(_same(fact, value) for value in values)

            self.test_source = "{same_as_one}({fact})"
            self.constants = {"same_as_one": same_as_one}

    def describe(self):
        if self.operator == "equals":
            return f"{self.path.text} equals {literal(self.values[0])}"
        return f"{self.path.text} is one of {', '.join(literal(value) for value in self.values)}"


class Compare(Leaf):
    def __init__(self, path: FactPath, operator: str, value: float):
        self.path = path
        self.operator = operator
        self.value = value
        # The test is _is_number's written out, followed by the operator itself.
        symbol = _SYMBOLS[operator]
        self.test_source = f"isinstance({{fact}}, (int, float)) and not isinstance({{fact}}, bool) and {{fact}} {symbol} {{value}}"
        self.constants = {"value": value}

    def describe(self):
        symbol = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[self.operator]
        return f"{self.path.text} {symbol} {self.value}"


class Matches(Leaf):
    def __init__(self, path: FactPath, pattern: re.Pattern):
        self.path = path
        self.pattern = pattern
        self.test_source = "isinstance({fact}, str) and {search}({fact}) is not None"
        self.constants = {"search": pattern.search}

    def describe(self):
        return f"{self.path.text} matches /{self.pattern.pattern}/"


class Some(Condition):
    def __init__(self, path: FactPath, where: Condition):
        self.path = path
        self.where = where

    def describe(self):
        return f"some item of {self.path.text} has ({self.where.describe()})"


class Count(Leaf):
    def __init__(self, path: FactPath, bounds: list[tuple[str, int]]):
        self.path = path
        self.bounds = bounds
        # One comparison of len(fact) per bound, each with its own limit constant.
        comparisons = " and ".join(f"len({{fact}}) {_SYMBOLS[operator]} {{limit{index}}}" for index, (operator, _) in enumerate(bounds))
        self.test_source = f"isinstance({{fact}}, list) and {comparisons}"
        self.constants = {f"limit{index}": limit for index, (_, limit) in enumerate(bounds)}

    def describe(self):
        symbols = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "equals": "=="}
        bounds = " and ".join(f"{symbols[operator]} {limit}" for operator, limit in self.bounds)
        return f"the number of items in {self.path.text} is {bounds}"


# ------------------------------------------------------------------------ compiling


def _mapping(node: Any, field: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """Check that `node` is a mapping with exactly the required keys and some optional ones."""
    allowed = required + optional
    shape = " and ".join(f"'{key}'" for key in required)
    if not isinstance(node, dict):
        raise ConditionError(field, f"a mapping with {shape}", node)
    for key in required:
        if key not in node:
            raise ConditionError(f"{field}.{key}", "a value (the key is required)", None)
    for key in node:
        if key not in allowed:
            raise ConditionError(f"{field}.{key}", f"only the keys {', '.join(allowed)}", key)
    return node


def _children(node: Any, field: str) -> list[Condition]:
    if not isinstance(node, list) or not node:
        raise ConditionError(field, "a non-empty list of conditions", node)
    return [compile_condition(child, f"{field}[{index}]") for index, child in enumerate(node)]


def _scalar(value: Any, field: str) -> Any:
    if isinstance(value, (dict, list)) or value is None:
        raise ConditionError(field, "a string, number or boolean", value)
    return value


def _number(value: Any, field: str) -> float:
    if not _is_number(value):
        raise ConditionError(field, "a number", value)
    return value


def compile_condition(node: Any, field: str) -> Condition:
    """Check one condition tree and return its compiled form; raise ConditionError."""
    if not isinstance(node, dict) or len(node) != 1:
        raise ConditionError(field, f"a mapping with exactly one operator of {', '.join(OPERATORS)}", node)
    operator, argument = next(iter(node.items()))
    here = f"{field}.{operator}"

    if operator in ("all", "any"):
        children = _children(argument, here)
        return AllOf(children) if operator == "all" else AnyOf(children)
    if operator == "not":
        return Not(compile_condition(argument, here))
    if operator in ("exists", "missing"):
        return Exists(compile_path(argument, here), present=operator == "exists")
    if operator == "equals":
        spec = _mapping(argument, here, ("path", "value"))
        return Equals(compile_path(spec["path"], f"{here}.path"), [_scalar(spec["value"], f"{here}.value")], operator)
    if operator == "in":
        spec = _mapping(argument, here, ("path", "values"))
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise ConditionError(f"{here}.values", "a non-empty list of values", values)
        checked = [_scalar(value, f"{here}.values[{index}]") for index, value in enumerate(values)]
        return Equals(compile_path(spec["path"], f"{here}.path"), checked, operator)
    if operator in COMPARISONS:
        spec = _mapping(argument, here, ("path", "value"))
        return Compare(compile_path(spec["path"], f"{here}.path"), operator, _number(spec["value"], f"{here}.value"))
    if operator == "matches":
        spec = _mapping(argument, here, ("path", "pattern"))
        return Matches(compile_path(spec["path"], f"{here}.path"), _pattern(spec["pattern"], f"{here}.pattern"))
    if operator == "some":
        spec = _mapping(argument, here, ("path", "where"))
        return Some(compile_path(spec["path"], f"{here}.path"), compile_condition(spec["where"], f"{here}.where"))
    if operator == "count":
        return _compile_count(argument, here)
    raise ConditionError(field, f"one operator of {', '.join(OPERATORS)}", operator)


def _pattern(text: Any, field: str) -> re.Pattern:
    if not isinstance(text, str) or not text:
        raise ConditionError(field, "a regular expression", text)
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as error:
        raise ConditionError(field, f"a valid Python regular expression ({error})", text) from None


def _compile_count(argument: Any, here: str) -> Count:
    spec = _mapping(argument, here, ("path",), tuple(COUNT_COMPARISONS))
    bounds = []
    for operator in COUNT_COMPARISONS:
        if operator in spec:
            limit = spec[operator]
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
                raise ConditionError(f"{here}.{operator}", "a whole number of 0 or more", limit)
            bounds.append((operator, limit))
    if not bounds:
        raise ConditionError(here, f"'path' and at least one of {', '.join(COUNT_COMPARISONS)}", argument)
    return Count(compile_path(spec["path"], f"{here}.path"), bounds)


# ------------------------------------------------------------------------ inspecting


def status_values(condition: Condition, root: Any, statuses: frozenset[str]) -> list[str]:
    """Return the casefolded fact values among `statuses` that make `equals` and `in` nodes hold.

    Only nodes that compare with one of `statuses` count, searched through `all`, `any` and
    `some` (over every list item), not under `not`. The engine reads the lookup statuses
    (`temperror`, `denied`, `error`) behind an `error_when` this way to say which kind of
    lookup failure stopped a rule.
    """
    found: list[str] = []
    if isinstance(condition, (AllOf, AnyOf)):
        for child in condition.children:
            found.extend(status_values(child, root, statuses))
    elif isinstance(condition, Some):
        items = condition.path.resolver(root)
        if isinstance(items, list):
            for item in items:
                found.extend(status_values(condition.where, item, statuses))
    elif isinstance(condition, Equals):
        compares_status = any(isinstance(value, str) and value.casefold() in statuses for value in condition.values)
        fact = condition.path.resolver(root)
        if compares_status and isinstance(fact, str) and fact.casefold() in statuses and condition.check(root) is not False:
            found.append(fact.casefold())
    return found
