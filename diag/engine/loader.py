"""Load and validate rule files: rules/*.yaml shipped with maildiag, plus `--rules DIR` folders.

Every field is checked on load, so a rule that loads can be evaluated without further
checks. A bad file raises RuleFileError naming the file, the field, what was expected and
what was found. Templates compile only when a rule first renders (see templates.py):
compiling all of the shipped ones took about 130 ms in a development container, half of
the 0.25 s start-up target.
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from diag.engine.cache import read_entry, write_entry
from diag.engine.conditions import Condition, ConditionError, FactPath, compile_condition, compile_path
from diag.errors import RuleFileError
from diag.paths import data_path

log = logging.getLogger(__name__)

SEVERITIES = ("error", "warning", "info")
CONFIDENCES = ("high", "medium", "low")
CATEGORIES = ("spf", "dkim", "dmarc", "microsoft", "arc", "transport", "content", "dns", "ses")
SOURCES = ("headers", "message", "dns", "ses")

NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CODE_PATTERN = re.compile(r"^[A-Z]{1,4}[0-9]{2,4}$")

REQUIRED = (
    "name", "code", "title", "severity", "confidence", "category", "needs", "when",
    "message", "evidence", "why", "fix", "references", "samples",
)
OPTIONAL = ("aliases", "applies", "error_when", "defer_to", "known_problems")

# Changed whenever the parsed form of a rule file changes, so older cache entries are not used.
_CACHE_FORMAT = "rule-documents-1"

# PyYAML's C loader parses several times faster than the pure-Python one; it is absent
# only when PyYAML was built without libyaml.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int):
        super().__init__(f"the key '{key}' appears twice in one mapping (line {line})")


class _RuleYamlLoader(_BaseLoader):
    """Safe loader that rejects a key repeated in one mapping instead of keeping the last."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str) and key in seen:
                raise _DuplicateKey(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@dataclass(frozen=True)
class Reference:
    title: str
    url: str


@dataclass(frozen=True, eq=False)
class Rule:
    """One validated rule file."""

    name: str
    code: str
    aliases: tuple[str, ...]
    title: str
    severity: str
    confidence: str
    category: str
    needs: tuple[str, ...]
    applies: Condition | None
    when: Condition
    error_when: Condition | None
    # Names of the rules this rule steps aside for when one of them fails.
    defer_to: tuple[str, ...]
    message: str
    evidence: tuple[FactPath, ...]
    why: str
    fix: tuple[str, ...]
    known_problems: str | None
    references: tuple[Reference, ...]
    samples_fail: tuple[str, ...]
    samples_pass: tuple[str, ...]
    # The file the rule came from, for error messages and `rules explain`.
    path: Path

    def __post_init__(self):
        # The Rule objects named in `defer_to`, set by load_rules once every rule is
        # loaded. A rule loaded alone with load_rule_file defers to nothing.
        object.__setattr__(self, "deferral_targets", ())

    def origin(self, field: str) -> str:
        """Return `FILE: field 'NAME'`, the prefix of every error about this rule."""
        return f"{self.path}: field '{field}'"

    def selectors(self) -> tuple[str, ...]:
        """Return the name, the code and the aliases: every string that selects this rule."""
        return (self.name, self.code, *self.aliases)

    @cached_property
    def identity(self) -> dict:
        """The fields that start every outcome of this rule, built once per rule.

        Callers copy it before adding to it. cached_property writes to the instance
        __dict__, which a frozen dataclass allows.
        """
        return {
            "name": self.name,
            "code": self.code,
            "title": self.title,
            "severity": self.severity,
            "confidence": self.confidence,
            "category": self.category,
        }



def load_rules(extra_dirs: list[Path]) -> list[Rule]:
    """Load the shipped rules and those in `extra_dirs`, sorted by code.

    Raises RuleFileError for an unreadable or invalid file, a folder that does not exist,
    or a name, code or alias used by two rules.
    """
    files = _rule_files(data_path("rules"))
    for directory in extra_dirs:
        if not directory.is_dir():
            raise RuleFileError(f"{directory}: rules folder not found; pass a folder that contains rule .yaml files")
        found = _rule_files(directory)
        if not found:
            log.warning("%s: no .yaml rule files in this folder", directory)
        files.extend(found)

    documents = _read_documents(files)
    rules = [_rule_from_document(document, path) for document, path in zip(documents, files)]
    _check_unique(rules)
    _link_deferrals(rules)
    rules.sort(key=lambda rule: rule.code)
    log.debug("loaded %d rules from %d files", len(rules), len(files))
    return rules


def _rule_files(directory: Path) -> list[Path]:
    # Only the folder's own *.yaml files: the decoding tables live in rules/tables/.
    return sorted(path for path in directory.glob("*.yaml") if path.is_file())


def load_rule_file(path: Path) -> Rule:
    """Parse and validate one rule file."""
    return _rule_from_document(_read_document(path), path)


def _read_document(path: Path) -> Any:
    """Parse one rule file's YAML; raise RuleFileError when it is unreadable or invalid."""
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_RuleYamlLoader)
    except OSError as error:
        raise RuleFileError(f"{path}: cannot read the rule file: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise RuleFileError(f"{path}: expected UTF-8 text, found an invalid byte at offset {error.start}") from None
    except yaml.YAMLError as error:
        raise RuleFileError(f"{path}: invalid YAML: {_yaml_problem(error)}") from None


def _rule_from_document(document: Any, path: Path) -> Rule:
    try:
        return _build_rule(document, path)
    except ConditionError as error:
        raise RuleFileError(f"{path}: {error}") from None


def _read_documents(files: list[Path]) -> list[Any]:
    """Parse the YAML of `files`, reusing the parse of an earlier run when no file changed.

    Parsing the shipped rule files took most of the time of loading them (about 18 ms of
    26 ms at start-up), so the parsed documents are kept in the per-user cache folder
    (see diag.engine.cache). One entry per list of files contains the documents and the
    state they were parsed from: each file's device, inode, size, and modification and
    change times in nanoseconds, and the PyYAML version and loader. An edit changes the
    change time even when it keeps the size and modification time.
    """
    entry, state = _cache_identity(files)
    if entry is not None:
        cached = read_entry("rules", entry)
        if isinstance(cached, list) and len(cached) == 2 and cached[0] == state and isinstance(cached[1], list) and len(cached[1]) == len(files):
            return cached[1]

    documents = [_read_document(path) for path in files]
    if entry is not None:
        try:
            write_entry("rules", entry, [state, documents])
        except ValueError as error:
            # A YAML timestamp or binary value has no marshal form; such files are parsed each time.
            log.debug("rule files not cached: %s", error)
    return documents


def _cache_identity(files: list[Path]) -> tuple[str | None, str]:
    """Return the cache entry name of `files` and the state of the files, or (None, "") when one cannot be read."""
    paths = []
    state = [_CACHE_FORMAT, yaml.__version__, _BaseLoader.__name__]
    for path in files:
        try:
            resolved = path.resolve()
            status = path.stat()
        except (OSError, RuntimeError):
            # Parsing raises the error that names the file.
            return None, ""
        paths.append(str(resolved))
        state.append(f"{status.st_dev} {status.st_ino} {status.st_size} {status.st_mtime_ns} {status.st_ctime_ns}")
    entry = hashlib.sha256("\0".join(paths).encode("utf-8", "surrogateescape")).hexdigest()
    return entry, "\n".join(state)


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return problem


def _build_rule(document: Any, path: Path) -> Rule:
    if not isinstance(document, dict):
        raise ConditionError("(top level)", "a mapping of rule fields", document)
    for key in REQUIRED:
        if key not in document:
            raise ConditionError(key, "a value (the field is required)", None)
    for key in document:
        if key not in REQUIRED and key not in OPTIONAL:
            raise ConditionError(str(key), f"only the fields {', '.join(REQUIRED + OPTIONAL)}", key)

    name = _matching(document, "name", NAME_PATTERN, "a lower-case slug such as 'dkim-fail'")
    if path.stem != name:
        raise ConditionError("name", f"the file name without .yaml ('{path.stem}'), so that rules are easy to find", name)
    samples = _samples(document["samples"])

    return Rule(
        name=name,
        code=_matching(document, "code", CODE_PATTERN, "a short upper-case code such as 'MD101'"),
        aliases=tuple(_strings(document.get("aliases", []), "aliases", allow_empty=True)),
        title=_line(document["title"], "title"),
        severity=_choice(document["severity"], "severity", SEVERITIES),
        confidence=_choice(document["confidence"], "confidence", CONFIDENCES),
        category=_choice(document["category"], "category", CATEGORIES),
        needs=_needs(document["needs"]),
        applies=_optional_condition(document, "applies"),
        when=compile_condition(document["when"], "when"),
        error_when=_optional_condition(document, "error_when"),
        defer_to=_defer_to(document.get("defer_to", []), name),
        message=_text(document["message"], "message"),
        evidence=tuple(compile_path(item, f"evidence[{index}]") for index, item in enumerate(_strings(document["evidence"], "evidence"))),
        why=_text(document["why"], "why"),
        fix=tuple(_strings(document["fix"], "fix")),
        known_problems=_text(document["known_problems"], "known_problems") if "known_problems" in document else None,
        references=_references(document["references"]),
        samples_fail=samples["fail"],
        samples_pass=samples["pass"],
        path=path,
    )


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConditionError(field, "non-empty text", value)
    return value.strip()


def _line(value: Any, field: str) -> str:
    text = _text(value, field)
    if "\n" in text:
        raise ConditionError(field, "a single line of text", value)
    return text


def _matching(document: dict, field: str, pattern: re.Pattern, expected: str) -> str:
    value = document[field]
    if not isinstance(value, str) or not pattern.match(value):
        raise ConditionError(field, expected, value)
    return value


def _choice(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConditionError(field, f"one of {', '.join(allowed)}", value)
    return value


def _strings(value: Any, field: str, allow_empty: bool = False) -> list[str]:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise ConditionError(field, "a list of strings" if allow_empty else "a non-empty list of strings", value)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ConditionError(f"{field}[{index}]", "non-empty text", item)
    return [item.strip() for item in value]


def _needs(value: Any) -> tuple[str, ...]:
    sources = _strings(value, "needs")
    for index, source in enumerate(sources):
        _choice(source, f"needs[{index}]", SOURCES)
    if len(set(sources)) != len(sources):
        raise ConditionError("needs", "each source once", value)
    return tuple(sources)


def _optional_condition(document: dict, field: str) -> Condition | None:
    if field not in document:
        return None
    return compile_condition(document[field], field)


def _defer_to(value: Any, name: str) -> tuple[str, ...]:
    names = _strings(value, "defer_to", allow_empty=True)
    for index, target in enumerate(names):
        if not NAME_PATTERN.match(target):
            raise ConditionError(f"defer_to[{index}]", "a rule name such as 'forwarded-auth-broken'", target)
        if target == name:
            raise ConditionError(f"defer_to[{index}]", "the name of another rule, not this one", target)
    if len(set(names)) != len(names):
        raise ConditionError("defer_to", "each rule name once", value)
    return tuple(names)


def _references(value: Any) -> tuple[Reference, ...]:
    if not isinstance(value, list) or not value:
        raise ConditionError("references", "a non-empty list of {title, url}", value)
    references = []
    for index, item in enumerate(value):
        field = f"references[{index}]"
        if not isinstance(item, dict) or set(item) != {"title", "url"}:
            raise ConditionError(field, "a mapping with exactly 'title' and 'url'", item)
        url = item["url"]
        if not isinstance(url, str) or not url.startswith("https://"):
            raise ConditionError(f"{field}.url", "an https:// address", url)
        references.append(Reference(_line(item["title"], f"{field}.title"), url))
    return tuple(references)


def _samples(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict) or set(value) != {"fail", "pass"}:
        raise ConditionError("samples", "a mapping with exactly 'fail' and 'pass', each a list of file paths", value)
    return {kind: tuple(_strings(value[kind], f"samples.{kind}")) for kind in ("fail", "pass")}


def _check_unique(rules: list[Rule]) -> None:
    """Raise RuleFileError when two rules share a name, code or alias (compared case-insensitively)."""
    owners: dict[str, Rule] = {}
    for rule in rules:
        for selector in dict.fromkeys(key.casefold() for key in rule.selectors()):
            other = owners.get(selector)
            if other is not None:
                raise RuleFileError(
                    f"{rule.path}: '{selector}' is already used by {other.path} (rule '{other.name}', code {other.code});"
                    " names, codes and aliases must be unique"
                )
            owners[selector] = rule


def _link_deferrals(rules: list[Rule]) -> None:
    """Set each rule's deferral_targets from its `defer_to` names.

    Raises RuleFileError for a name that no loaded rule has, and for a cycle (a rule that
    defers, directly or through others, to itself), which would leave no rule to decide
    first.
    """
    by_name = {rule.name: rule for rule in rules}
    for rule in rules:
        targets = []
        for index, target in enumerate(rule.defer_to):
            if target not in by_name:
                raise RuleFileError(
                    f"{rule.path}: field 'defer_to[{index}]': no loaded rule is named '{target}';"
                    " name a rule by its `name`, as in rules/NAME.yaml"
                )
            targets.append(by_name[target])
        object.__setattr__(rule, "deferral_targets", tuple(targets))

    # Depth-first search; `path` lists the rules on the current chain of deferrals.
    finished: set[str] = set()
    for start in rules:
        _check_no_cycle(start, [], finished)


def _check_no_cycle(rule: Rule, path: list[Rule], finished: set[str]) -> None:
    if rule.name in finished:
        return
    if rule in path:
        chain = " -> ".join(member.name for member in path[path.index(rule):] + [rule])
        raise RuleFileError(f"{rule.path}: field 'defer_to': the rules defer to each other in a cycle ({chain}); remove one of these entries")
    path.append(rule)
    for target in rule.deferral_targets:
        _check_no_cycle(target, path, finished)
    path.pop()
    finished.add(rule.name)
