"""Write a whole condition tree out as one Python function (the `check` of diag.engine.conditions).

The conditions of a whole rule list (compile_judge) and a rule's evidence paths
(compile_evidence) are written out the same way.

Rules judge about a hundred condition nodes per message. A function per node cost a
Python call at every node and a dict lookup per step of every fact path, so each tree
becomes one function instead:

- `all`, `any` and `not` become Python's `and`, `or` and `not`, which stop at the same
  operand as the node functions did;
- each step of a fact path that two leaves share is looked up once per call, at the top
  of the function;
- each `some` becomes a nested function with a loop over the list items.

The result is the same as evaluating node by node: False when the condition does not
hold, else True or the Match of the first `some` whose item satisfied it. Leaf tests
cannot raise, so looking up the shared path steps before the operands that need them
changes no result.

Only text that the compiler writes itself goes into the source. Path keys are names that
compile_path checked against its pattern. Every value from the rule file (a string,
number, regular expression or function) is passed in as an argument of the generated
factory. Rule files from `--rules DIR` therefore cannot add code.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from diag.engine.conditions import AllOf, AnyOf, Check, Condition, Leaf, Match, Not, Some, resolve_keys

# Looked-up steps that are not dicts are replaced by this empty dict, so that the next
# step is one `.get` without a type test. The generated code only reads it.
_EMPTY: dict = {}


def compile_tree(condition: Condition) -> Check:
    """Return one function that evaluates `condition` and all of its children."""
    writer = _TreeWriter()
    body = writer.scope_body(condition, "root")
    return writer.build("check(root)", body, f"<condition {condition.describe()[:80]}>")


# Results that a rule list's judge function appends to `pending`, next to a rule's index.
ERROR = "error"
SEPARATE = "separate"


def compile_judge(
    entries: list[tuple[int, "JudgeEntry | SharedVerdict | None"]],
    shared: list[tuple[Any, "JudgeEntry"]] = (),
) -> Callable[[Any, list, list], None]:
    """Return one function that decides the rules of a rule list whose sources are present.

    `entries` has an (index, entry) pair per such rule, in rule order. The entry is a
    JudgeEntry (the rule's conditions and the summaries that end its evaluation here), a
    SharedVerdict (the key of its verdict in `shared`), or None for a rule that the caller
    decides itself. The function `judge(facts, summaries, pending)` decides the rules in order, as
    the engine documents (error_when, then defer_to, then applies, then when):

    - `applies` false: summaries[index] = entry.not_applicable;
    - a rule in entry.deferrals fails: summaries[index] = that deferral's summary;
    - `when` false: summaries[index] = entry.passed;
    - otherwise it appends (index, result) to `pending`: ERROR when `error_when` holds,
      True or the Match when `when` holds, and SEPARATE for a rule whose entry is None.

    `shared` has a (key, entry) pair for each rule whose verdict other rules defer to, or
    that defers itself, each after the rules it defers to. Their verdicts are decided
    first, once per call, and each entry's deferrals name keys of `shared`.

    One function for the whole list looks up the fact path steps that rules share (such
    as `verdicts`) once per message, and makes no Python call per rule.
    """
    writer = _TreeWriter()
    judged = [entry for _, entry in entries if isinstance(entry, JudgeEntry)] + [entry for _, entry in shared]
    conditions = [condition for entry in judged for condition in (entry.error_when, entry.applies, entry.when) if condition is not None]
    scope = _Scope("root", conditions)
    statements = []

    # Verdict variables of `shared`: ERROR, a summary, or True or the Match of a fail.
    variables: dict[Any, str] = {}
    for key, entry in shared:
        variable = variables[key] = writer.name("r")
        branches = _branches(writer, entry, scope, variables)
        deciding = [(test, f"{variable} = {'ERROR' if action is ERROR else writer.constant(action)}") for test, action in branches[:-1]]
        when = branches[-1]
        if _can_match(entry.when):
            deciding.append((f"({variable} := {when}) is False", f"{variable} = {writer.constant(entry.passed)}"))
            final = None
        else:
            deciding.append((f"not {when}", f"{variable} = {writer.constant(entry.passed)}"))
            final = f"{variable} = True"
        statements.extend(_if_chain(deciding, final))

    for index, entry in entries:
        if entry is None:
            statements.append(f"pending.append(({index}, SEPARATE))")
            continue
        if isinstance(entry, SharedVerdict):
            variable = variables[entry.key]
            statements.extend(_if_chain(
                [(f"{variable} is ERROR", f"pending.append(({index}, ERROR))"), (_fails_test(variable), f"summaries[{index}] = {variable}")],
                f"pending.append(({index}, {variable}))",
            ))
            continue
        branches = _branches(writer, entry, scope, variables)
        deciding = [
            (test, f"pending.append(({index}, ERROR))" if action is ERROR else f"summaries[{index}] = {writer.constant(action)}")
            for test, action in branches[:-1]
        ]
        when = branches[-1]
        if _can_match(entry.when):
            result = writer.name("w")
            deciding.append((f"({result} := {when}) is False", f"summaries[{index}] = {writer.constant(entry.passed)}"))
        else:
            result = "True"
            deciding.append((f"not {when}", f"summaries[{index}] = {writer.constant(entry.passed)}"))
        statements.extend(_if_chain(deciding, f"pending.append(({index}, {result}))"))
    body = [f"        {line}" for line in [*scope.setup_lines(), *statements, "return None"]]
    return writer.build("judge(root, summaries, pending)", body, f"<judge of {len(entries)} rules>")


def _branches(writer: "_TreeWriter", entry: "JudgeEntry", scope: "_Scope", variables: dict[Any, str]) -> list:
    """Return (test, outcome) for each step that can end a rule before `when`, then `when`'s expression.

    The outcome is ERROR or the summary to set. Each test is true when its step ends the rule.
    """
    branches: list = []
    if entry.error_when is not None:
        branches.append((_holds(writer, entry.error_when, scope), ERROR))
    for key, summary in entry.deferrals:
        # The rule deferred to failed: its verdict is True or a Match.
        branches.append((f"not {_fails_test(variables[key])}", summary))
    if entry.applies is not None:
        branches.append((_fails(writer, entry.applies, scope), entry.not_applicable))
    branches.append(writer.expression(entry.when, scope))
    return branches


def _fails_test(variable: str) -> str:
    """Return a test that holds when the verdict in `variable` is not a fail (ERROR or a summary)."""
    return f"({variable} is not True and type({variable}) is not Match)"


def _if_chain(branches: list[tuple[str, str]], final: str | None) -> list[str]:
    lines = []
    keyword = "if"
    for test, action in branches:
        lines.extend([f"{keyword} {test}:", f"    {action}"])
        keyword = "elif"
    if final is not None:
        lines.extend(["else:", f"    {final}"])
    return lines


@dataclass(frozen=True)
class JudgeEntry:
    """The conditions of one rule for compile_judge, and its summaries when it does not fail."""

    error_when: Condition | None
    applies: Condition | None
    when: Condition
    # Stored as they are: the caller copies them if it must.
    not_applicable: Any
    passed: Any
    # (key in compile_judge's `shared`, summary) for each rule this rule defers to, in order:
    # when that rule fails, this rule's summary is the one given.
    deferrals: tuple[tuple[Any, Any], ...] = ()


@dataclass(frozen=True)
class SharedVerdict:
    """An entry of compile_judge decided as `shared[key]`, once per call."""

    key: Any


def compile_evidence(paths: tuple) -> Callable[[Any, "Match | None"], list[dict]]:
    """Return one function `evidence(facts, match)` that lists the values at `paths`.

    It returns [{path, value}] for each path whose value is not None, in the order of
    `paths`. A path that starts with `item` is resolved under the item of `match`, is
    reported under the item's own path (`received.hops.2.raw`), and is left out when
    `match` is None. The dicts on the way to the other paths are looked up once.
    """
    writer = _TreeWriter()
    scope = _Scope("root", [])
    statements = ["found = []"]
    for path in paths:
        if path.keys[0] == "item":
            keys = writer.constant(path.keys[1:])
            suffix = writer.constant(path.text[len("item"):])
            statements.extend([
                "if match is not None:",
                f"    value = resolve_keys({keys}, match.item)",
                "    if value is not None:",
                f"        found.append({{'path': match.path + {suffix}, 'value': value}})",
            ])
        else:
            statements.extend([
                f"value = {scope.lookup(path)}",
                "if value is not None:",
                f"    found.append({{'path': {writer.constant(path.text)}, 'value': value}})",
            ])
    statements.append("return found")
    body = [f"        {line}" for line in [*scope.setup_lines(), *statements]]
    return writer.build("evidence(root, match)", body, f"<evidence of {len(paths)} paths>")


class _TreeWriter:
    """Collect the source lines, nested functions and constants of one tree's function."""

    def __init__(self):
        # Argument name -> value, in argument order.
        self.constants: dict[str, Any] = {"EMPTY": _EMPTY, "Match": Match, "resolve_keys": resolve_keys, "ERROR": ERROR, "SEPARATE": SEPARATE}
        self.helpers: list[str] = []
        self.counter = 0

    def build(self, signature: str, body: list[str], filename: str) -> Callable:
        """Compile the function `signature` with `body` inside a factory of the constants; return it."""
        name = signature.split("(", 1)[0]
        lines = [
            f"def factory({', '.join(self.constants)}):",
            *self.helpers,
            f"    def {signature}:",
            *body,
            f"    return {name}",
        ]
        namespace: dict[str, Any] = {}
        exec(compile("\n".join(lines), filename, "exec"), namespace)
        return namespace["factory"](*self.constants.values())

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def constant(self, value: Any) -> str:
        name = self.name("c")
        self.constants[name] = value
        return name

    def scope_body(self, condition: Condition, root: str, indent: str = "        ") -> list[str]:
        """Return the statements that evaluate `condition` over the value named `root`.

        The statements end with `return`. `root` is the facts document, or a list item
        inside a `some`.
        """
        scope = _Scope(root, [condition])
        expression = self.expression(condition, scope)
        lines = [f"{indent}{line}" for line in scope.setup_lines()]
        lines.append(f"{indent}return {expression}")
        return lines

    def expression(self, condition: Condition, scope: "_Scope") -> str:
        if isinstance(condition, Leaf):
            return self.leaf(condition, scope)
        if isinstance(condition, Not):
            return f"(not {self.expression(condition.child, scope)})"
        if isinstance(condition, AnyOf):
            # `or` returns the first operand that is not False (True or a Match), as `any` does.
            return "(" + " or ".join(self.expression(child, scope) for child in condition.children) + ")"
        if isinstance(condition, AllOf):
            return self.all_of(condition, scope)
        if isinstance(condition, Some):
            return f"{self.some(condition)}({scope.lookup(condition.path)})"
        raise TypeError(f"no code for condition node {type(condition).__name__}")

    def all_of(self, condition: AllOf, scope: "_Scope") -> str:
        """Return `a and b and ...`, ending in the first Match of the children, else True."""
        operands = []
        matches = []
        for child in condition.children:
            operand = self.expression(child, scope)
            if _can_match(child):
                # Kept in a variable, because `all` returns the first child's Match and `and`
                # would return the last operand.
                variable = self.name("m")
                matches.append(variable)
                operand = f"({variable} := {operand})"
            operands.append(operand)
        if matches:
            first_match = matches[-1]
            for variable in reversed(matches[:-1]):
                first_match = f"({variable} if {variable} is not True else {first_match})"
            operands.append(first_match)
        return "(" + " and ".join(operands) + ")"

    def leaf(self, condition: Leaf, scope: "_Scope") -> str:
        names = {name: self.constant(value) for name, value in condition.constants.items()}
        folded = scope.folded(condition)
        if folded is not None:
            return "(" + condition.folded_test_source.format(folded_fact=folded, **names) + ")"
        lookup = scope.lookup(condition.path)
        if condition.test_source.count("{fact}") == 1:
            return "(" + condition.test_source.format(fact=lookup, **names) + ")"
        # The first {fact} is evaluated first (see Leaf), so it assigns the value that the
        # others read.
        variable = self.name("f")
        head, tail = condition.test_source.split("{fact}", 1)
        source = head + "{first}" + tail
        return "(" + source.format(first=f"({variable} := {lookup})", fact=variable, **names) + ")"

    def some(self, condition: Some) -> str:
        """Add a nested function that returns the Match of the first item satisfying `where`."""
        function = self.name("some")
        prefix = self.constant(condition.path.text + ".")
        scope = _Scope("item", [condition.where])
        test = _holds(self, condition.where, scope)
        self.helpers.extend([
            f"    def {function}(items):",
            "        if not isinstance(items, list):",
            "            return False",
            "        for index, item in enumerate(items):",
            *[f"            {line}" for line in scope.setup_lines()],
            f"            if {test}:",
            f"                return Match(item, {prefix} + str(index))",
            "        return False",
        ])
        return function


def _holds(writer: _TreeWriter, condition: Condition, scope: "_Scope") -> str:
    """Return a test that is true when `condition` holds."""
    expression = writer.expression(condition, scope)
    # An expression that can return a Match is tested against False; the others are
    # exactly True or False.
    return f"{expression} is not False" if _can_match(condition) else expression


def _fails(writer: _TreeWriter, condition: Condition, scope: "_Scope") -> str:
    """Return a test that is true when `condition` does not hold."""
    expression = writer.expression(condition, scope)
    return f"{expression} is False" if _can_match(condition) else f"not {expression}"


def _can_match(condition: Condition) -> bool:
    """Return whether the node can return a Match rather than only True or False."""
    if isinstance(condition, Some):
        return True
    if isinstance(condition, (AllOf, AnyOf)):
        return any(_can_match(child) for child in condition.children)
    return False


class _Scope:
    """The fact path steps and values looked up once at the top of one function, from `root`.

    Every dict on the way to a fact is looked up once. A value is looked up once when two
    or more nodes of the scope read it, and so is its casefolded form when two or more
    string comparisons read that. A value read once is looked up where it is tested,
    after the operands before it, as a function per node would.
    """

    def __init__(self, root: str, conditions: list[Condition]):
        self.root = root
        # Key prefix -> variable that contains the dict at that prefix, or EMPTY.
        self.dicts: dict[tuple[str, ...], str] = {(): "d0"}
        # Keys -> variable that contains the value, or its casefolded form.
        self.values: dict[tuple[str, ...], str] = {}
        self.folded_values: dict[tuple[str, ...], str] = {}
        self.setup: list[str] = []
        self.reads: Counter = Counter()
        self.folded_reads: Counter = Counter()
        for condition in conditions:
            self.count_reads(condition)

    def count_reads(self, condition: Condition) -> None:
        """Count the paths that the nodes of this scope read; `some` items have scopes of their own."""
        if isinstance(condition, (Leaf, Some)):
            keys = condition.path.keys
            if all(isinstance(key, str) for key in keys):
                self.reads[keys] += 1
                if getattr(condition, "folded_test_source", None):
                    self.folded_reads[keys] += 1
        elif isinstance(condition, Not):
            self.count_reads(condition.child)
        elif isinstance(condition, (AllOf, AnyOf)):
            for child in condition.children:
                self.count_reads(child)

    def lookup(self, path) -> str:
        """Return an expression for the value at `path`, or None when a step is absent."""
        keys = path.keys
        if not all(isinstance(key, str) for key in keys):
            # A list index: resolve_keys walks the path from the original root. The keys are
            # numbers and names that compile_path checked, so their repr is plain text.
            return f"resolve_keys({tuple(keys)!r}, {self.root})"
        if self.reads[keys] < 2:
            return f"{self.dict_at(keys[:-1])}.get({keys[-1]!r})"
        variable = self.values.get(keys)
        if variable is None:
            variable = self.values[keys] = f"v{len(self.values) + 1}"
            self.setup.append(f"{variable} = {self.dict_at(keys[:-1])}.get({keys[-1]!r})")
        return variable

    def folded(self, condition: Leaf) -> str | None:
        """Return the variable with the casefolded value that `condition` compares, or None.

        None when the leaf compares no casefolded string, or when it is the only node of
        the scope that does so for its path.
        """
        keys = condition.path.keys
        if not getattr(condition, "folded_test_source", None) or self.folded_reads[keys] < 2:
            return None
        variable = self.folded_values.get(keys)
        if variable is None:
            value = self.lookup(condition.path)
            variable = self.folded_values[keys] = f"s{len(self.folded_values) + 1}"
            self.setup.append(f"{variable} = {value}.casefold() if isinstance({value}, str) else None")
        return variable

    def dict_at(self, keys: tuple[str, ...]) -> str:
        variable = self.dicts.get(keys)
        if variable is None:
            parent = self.dict_at(keys[:-1])
            variable = f"d{len(self.dicts)}"
            self.dicts[keys] = variable
            self.setup.append(f"{variable} = {parent}.get({keys[-1]!r})")
            self.setup.append(f"if not isinstance({variable}, dict): {variable} = EMPTY")
        return variable

    def setup_lines(self) -> list[str]:
        return [f"d0 = {self.root} if isinstance({self.root}, dict) else EMPTY", *self.setup]
