"""Render the Jinja2 templates of rule files (`message` and `fix`) in a sandbox.

Rule folders given with `--rules DIR` may come from anyone, so templates run in Jinja2's
ImmutableSandboxedEnvironment: no access to attributes that start with an underscore or to
functions that change the facts. Jinja2 is imported and a template compiled only when a
rule first renders, which keeps start-up fast.
"""

import functools
import hashlib
import logging
import types
from collections import Counter
from importlib.util import MAGIC_NUMBER
from typing import Any, NamedTuple

from diag.engine.cache import CACHE_ENV, read_entry, write_entry  # noqa: F401 (CACHE_ENV is part of this module's interface)
from diag.errors import RuleFileError

log = logging.getLogger(__name__)

# Compiling one template took about 1 ms in a development container, more than evaluating
# every rule, so compiled code is kept in the per-user cache folder (see diag.engine.cache).


@functools.lru_cache(maxsize=1)
def _environment():
    from jinja2 import ChainableUndefined, nodes
    from jinja2.compiler import CodeGenerator
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class QuietUndefined(ChainableUndefined):
        """An absent fact: renders as "", chains through `.attr`, and is falsy for `or`.

        The sandbox returns an undefined value carrying a SecurityError for forbidden
        attributes such as `__class__`; rendering that one raises instead of printing "".
        """

        __slots__ = ()

        # The methods below test _undefined_exception in place instead of calling a helper,
        # because absent facts are common and each test runs several times per message.

        def __str__(self) -> str:
            if self._undefined_exception is SecurityError:
                self._fail_with_undefined_error()
            return ""

        def __getattr__(self, name: str):
            # Dunder lookups come from Python and Jinja2 probing the object (hasattr).
            if name[:2] == "__":
                raise AttributeError(name)
            if self._undefined_exception is SecurityError:
                self._fail_with_undefined_error()
            return self

        def __bool__(self) -> bool:
            if self._undefined_exception is SecurityError:
                self._fail_with_undefined_error()
            return False

    # Names that a dict has as attributes (`items`, `update`, `__class__`): a template that
    # writes `f.items` gets the method, as Jinja2 documents, after the sandbox's checks.
    dict_attributes = frozenset(dir(dict))
    # Names that QuietUndefined has as attributes; any other name reaches its __getattr__.
    undefined_attributes = frozenset(dir(QuietUndefined))
    # Methods of str that the sandbox returns unchanged: not private, and not `format` or
    # `format_map`, which it wraps (SandboxedEnvironment.wrap_str_format).
    str_methods = frozenset(name for name in dir(str) if not name.startswith("_")) - {"format", "format_map"}
    absent = object()

    class FactsSandbox(ImmutableSandboxedEnvironment):
        """The sandbox with shorter paths for the values that fact templates look up most.

        Jinja2's getattr tries getattr(obj, name) first and reads obj[name] only after the
        AttributeError, then checks the value it found. The types below give the same
        value or undefined as that path, without the exception and the checks:

        - a dict (facts are plain dicts) and a name that no dict attribute has: obj[name];
        - an absent fact (QuietUndefined) and a public name: its __getattr__, which returns
          the same undefined value, or raises for one that carries a SecurityError;
        - a str and one of its public methods except format and format_map: the method,
          which the sandbox deems safe because str is immutable.

        Every other lookup, including every name that starts with "_", takes the
        sandbox's path and checks.
        """

        def getattr(self, obj, attribute):
            kind = type(obj)
            if kind is dict and attribute not in dict_attributes:
                # get() with a marker instead of obj[attribute]: absent keys are common, and
                # raising and catching KeyError took longer than the rest of the lookup.
                value = obj.get(attribute, absent)
                if value is absent:
                    return self.undefined(obj=obj, name=attribute)
                return value
            if kind is QuietUndefined and attribute[:1] != "_" and attribute not in undefined_attributes:
                return obj.__getattr__(attribute)
            if kind is str and attribute in str_methods:
                return getattr(obj, attribute)
            return super().getattr(obj, attribute)

    class FactsCodeGenerator(CodeGenerator):
        """Jinja2's code generator with FactsSandbox.getattr's dict step written into the code.

        `f.verdicts.spf` compiles to `environment.getattr(environment.getattr(f,
        'verdicts'), 'spf')`, and the call cost most of a lookup. For a name that no dict
        attribute has, the code reads the key of a plain dict in place, as FactsSandbox.getattr
        does. Any other value, and an absent key, go to environment.getattr, which returns
        the same value or undefined as before.

        Some paths are read two or more times, such as `f.verdicts` in nearly every rule, or
        `m.scl` after `{% set m = f.microsoft %}`. Each such path from `f`, `item` or a name
        set once at the top level is looked up once (see _shared_paths), at the top of the
        render function or just after the name's `set`, and each read takes that value.
        The look-up reads only plain dicts, where a lookup cannot raise or change anything,
        so looking a path up early gives the value a read would have found. Where the value
        there is not a dict, the path's variable contains `missing`, and each read looks the
        path up in place as before.
        """

        def visit_Template(self, node, frame=None):
            # Path (root name and attribute names) -> variable, filled as the look-ups are written.
            self.shared_paths = {}
            self.root_frame = None
            self.planned = _shared_paths(node)
            super().visit_Template(node, frame)

        def enter_frame(self, frame):
            super().enter_frame(frame)
            planned = getattr(self, "planned", None)
            if planned is None or self.root_frame is not None or not frame.rootlevel:
                return
            # The root frame, entered once per template. Its output goes to a list that is
            # joined once at the end (see leave_frame): a generator's yield and resumption
            # cost more than list.append, and a long message has about twenty pieces.
            self.root_frame = frame
            self.buffer(frame)
            # The names that the template reads at its top level are resolved just above.
            for root in _ROOT_NAMES:
                if frame.symbols.find_ref(root) is not None:
                    self.write_shared_paths(root, planned.paths, frame)

        def visit_Assign(self, node, frame):
            super().visit_Assign(node, frame)
            if self.planned is not None and any(node is statement for statement in self.planned.assignments):
                self.write_shared_paths(node.target.name, self.planned.paths, frame)

        def write_shared_paths(self, root, planned, frame):
            """Write the look-ups of the planned paths from `root`, parents before children."""
            for parent_path, attributes in planned.items():
                if parent_path[0] != root:
                    continue
                parent = self.shared_paths.get(parent_path)
                if parent is None:
                    if len(parent_path) != 1:
                        continue
                    parent = self.shared_paths[parent_path] = self.temporary_identifier()
                    self.writeline(f"{parent} = ")
                    self.visit(nodes.Name(root, "load"), frame)
                variables = [self.temporary_identifier() for _ in attributes]
                # The same value or undefined as FactsSandbox.getattr for a dict.
                self.writeline(f"if type({parent}) is dict:")
                self.indent()
                for variable, attribute in zip(variables, attributes):
                    self.shared_paths[(*parent_path, attribute)] = variable
                    self.writeline(f"{variable} = {parent}.get({attribute!r}, missing)")
                    self.writeline(f"if {variable} is missing: {variable} = undefined(obj={parent}, name={attribute!r})")
                self.outdent()
                self.writeline(f"else: {' = '.join(variables)} = missing")

        def leave_frame(self, frame, with_python_scope=False):
            super().leave_frame(frame, with_python_scope)
            if frame is self.root_frame:
                self.writeline(f"yield concat({frame.buffer})")

        def visit_Getattr(self, node, frame):
            if self.environment.is_async or node.attr in dict_attributes:
                super().visit_Getattr(node, frame)
                return
            shared = self.shared_paths.get(_attribute_path(node)) if self.shared_paths else None
            if shared is not None:
                self.write(f"({shared} if {shared} is not missing else ")
            # The conditions run before the branches they choose, so each := assigns the
            # name before the branch that reads it.
            value = self.temporary_identifier()
            target = self.temporary_identifier()
            self.write(f"({value} if ({value} := ({target}.get({node.attr!r}, missing) if type({target} := ")
            self.visit(node.node, frame)
            self.write(f") is dict else missing)) is not missing else environment.getattr({target}, {node.attr!r}))")
            if shared is not None:
                self.write(")")

    # Nodes whose code Jinja2 writes outside the root render function, or that run other templates.
    separate_code = (nodes.Block, nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport, nodes.Macro, nodes.CallBlock)

    def _attribute_path(node):
        """Return (name, attribute, ...) for `name.attribute...` with no dict attribute, else None."""
        attributes = []
        while isinstance(node, nodes.Getattr):
            if node.attr in dict_attributes or node.attr[:1] == "_":
                return None
            attributes.append(node.attr)
            node = node.node
        if not isinstance(node, nodes.Name) or node.ctx != "load":
            return None
        return (node.name, *reversed(attributes))

    class SharedPaths(NamedTuple):
        # Parent path -> its attributes, parents before their children.
        paths: dict
        # The top-level `set` statements after which the paths of their name are looked up.
        assignments: list

    def _shared_paths(template):
        """Return the paths to look up once in `template`, or None.

        None when the template has code outside the root render function (blocks, macros,
        imports, includes), which then compiles as Jinja2 writes it. A path qualifies when
        it is read two or more times and its root name is `f` or `item` and never assigned,
        or is assigned once, by a `set` at the top level that comes before every read of it.
        """
        if any(True for _ in template.find_all(separate_code)):
            return None
        stores = Counter(name.name for name in template.find_all(nodes.Name) if name.ctx != "load")
        stores.update(reference.name for reference in template.find_all(nodes.NSRef))
        roots = {name for name in _ROOT_NAMES if not stores[name]}
        assignments = []
        for index, statement in enumerate(template.body):
            if not (isinstance(statement, nodes.Assign) and isinstance(statement.target, nodes.Name)):
                continue
            name = statement.target.name
            if stores[name] != 1 or name in _ROOT_NAMES:
                continue
            earlier = [*template.body[:index], statement.node]
            if any(read.name == name for node in earlier for read in node.find_all(nodes.Name)):
                continue
            roots.add(name)
            assignments.append(statement)
        reads = Counter(_attribute_path(node) for node in template.find_all(nodes.Getattr))
        paths = sorted((path for path, count in reads.items() if path is not None and count >= 2 and path[0] in roots), key=len)
        # A shorter path is read at least as often as a longer one that contains it.
        planned: dict[tuple, list[str]] = {}
        for path in paths:
            planned.setdefault(path[:-1], []).append(path[-1])
        return SharedPaths(planned, assignments)

    # Autoescape is off because each reporter escapes for its own format (HTML, Markdown, SARIF).
    # NOTE: the sandbox limits attribute access and calls, not CPU or memory; a template
    # such as {{ "x" * 10**9 }} still runs.
    environment = FactsSandbox(autoescape=False, undefined=QuietUndefined, keep_trailing_newline=False)
    environment.code_generator_class = FactsCodeGenerator
    environment.filters["esp_name"] = _esp_name
    return environment


# Changed whenever FactsCodeGenerator writes different code, so older cache entries are not used.
_GENERATED_CODE_VERSION = "facts-shared-paths-2"

# The names that every render binds, whose paths FactsCodeGenerator can look up at the
# top of the render function: the facts and the matched item.
_ROOT_NAMES = ("f", "item")


def _fingerprint(environment) -> str:
    """Return the settings that change the code Jinja2 compiles, for the cache key.

    Jinja2's own bytecode caches key on the template source and Jinja2's version only,
    and ask for one cache per environment. These settings are in the key too, so a change
    to the environment in a later maildiag version never runs code compiled for the old one.
    """
    settings = (
        environment.block_start_string, environment.block_end_string,
        environment.variable_start_string, environment.variable_end_string,
        environment.comment_start_string, environment.comment_end_string,
        environment.line_statement_prefix, environment.line_comment_prefix,
        environment.trim_blocks, environment.lstrip_blocks, environment.newline_sequence,
        environment.keep_trailing_newline, environment.autoescape, environment.optimized,
        getattr(environment.finalize, "__qualname__", environment.finalize), environment.undefined.__qualname__,
        environment.code_generator_class.__qualname__, _GENERATED_CODE_VERSION,
        sorted(environment.extensions), sorted(environment.filters), sorted(environment.tests),
    )
    return repr(settings)


def _esp_name(key: Any) -> str:
    """Return the display name of a provider key (`amazonses` -> `Amazon SES`)."""
    from diag.facts.esp import provider_names

    if not isinstance(key, str) or not key:
        return ""
    return provider_names().get(key, key)


@functools.lru_cache(maxsize=512)
def _compile(source: str):
    import jinja2

    environment = _environment()
    # The key covers everything the code depends on: the source, the Jinja2 and Python
    # versions, the environment class (sandboxed code calls the sandbox's getattr) and the
    # environment's compile settings. The source comes last, so the NUL separators cannot
    # make two different keys read alike.
    key = hashlib.sha256(
        "\0".join([jinja2.__version__, MAGIC_NUMBER.hex(), type(environment).__qualname__, _fingerprint(environment), source]).encode()
    ).hexdigest()
    code = _cache_read(key)
    if code is None:
        code = environment.compile(source)
        _cache_write(key, code)
    # make_globals returns a ChainMap over the environment's globals, and each render
    # copies the globals into a new dict: from a ChainMap that copy cost about a third of
    # a short template's render. The environment's globals do not change after
    # _environment() builds it, so a plain dict contains the same names.
    template_globals = dict(environment.make_globals(None))
    return _Renderer(environment.template_class.from_code(environment, code, template_globals))


class _Renderer:
    """A compiled template and the Jinja2 contexts that its renders reuse.

    Creating a Context (and its EvalContext) cost about half of a short template's render
    (callgrind, Jinja2 3.1.6), so a render takes a free context from `free` and returns
    it when the template has run. Each render gets a context of its own, also in
    threads: list.pop and list.append are atomic.
    """

    __slots__ = ("template", "free")

    def __init__(self, template):
        self.template = template
        self.free: list = []

    def render(self, facts: dict, item: Any, docs: bool) -> str:
        """Return the text of the template, without collapsing its whitespace."""
        free = self.free
        if free:
            context = free.pop()
            variables = context.parent
        else:
            # Template.new_context's context (Jinja2 3.1), without the set of the global
            # names, which only a template imported as a module reads.
            template = self.template
            environment = template.environment
            variables = dict(template.globals)
            context = environment.context_class(environment, variables, template.name, template.blocks)
        variables["f"] = facts
        variables["item"] = item
        variables["docs"] = docs
        # Template.render without its wrapper: the keyword dict, the async check and
        # handle_exception, which only rewrites the traceback of the same exception.
        text = "".join(self.template.root_render_func(context))

        # What the template set ({% set %} at top level) must not reach the next render.
        # A render that raised leaves its context out of `free`, whatever state it is in.
        context.vars.clear()
        context.exported_vars.clear()
        # The facts are released, not kept alive until the next message.
        variables["f"] = variables["item"] = None
        free.append(context)
        return text


def _cache_read(key: str):
    code = read_entry("templates", key)
    if code is not None and not isinstance(code, types.CodeType):
        log.debug("template cache entry %s is not a code object, compiling again", key)
        return None
    return code


def _cache_write(key: str, code) -> None:
    write_entry("templates", key, code)


def render(source: str, facts: dict, item: Any, origin: str, docs: bool = False) -> str:
    """Render one template with `f` bound to the facts and `item` to the matched list item.

    `docs` is true when rendering for `maildiag rules explain`, where there is no message, so
    that a template can show the steps of every case.

    `origin` names the rule file and field (`rules/x.yaml: field 'fix[0]'`) for errors.
    Whitespace runs, newlines included, collapse to one space: messages and fix steps are
    single lines. A syntax error or a sandbox violation is a fault of the rule file and
    raises RuleFileError.
    """
    if "{" not in source:
        # Text without "{{", "{%" or "{#" renders as itself, because line statements are
        # off. About one fix step in seven is such text, and Jinja2's set-up alone
        # (new_context) took about 1.4 µs per render (timeit, Jinja2 3.1.6).
        return _collapse_whitespace(source)
    return RuleTemplate(source, origin).render(facts, item, docs)


class RuleTemplate:
    """One `message` or `fix` template of a rule, compiled on its first render.

    render(facts, item) returns what render(source, facts, item, origin) returns. The rule
    engine keeps one per template of each rule, which skips the look-up of the compiled
    template by its source text at every render.
    """

    __slots__ = ("source", "origin", "renderer")

    def __init__(self, source: str, origin: str):
        self.source = source
        self.origin = origin
        self.renderer: _Renderer | None = None

    def render(self, facts: dict, item: Any, docs: bool = False) -> str:
        renderer = self.renderer
        if renderer is None:
            renderer = self.renderer = _compiled(self.source, self.origin)
        try:
            text = renderer.render(facts, item, docs)
        except Exception as error:
            failure = _render_failure(error, self.origin)
            if failure is None:
                raise
            raise failure from None
        return _collapse_whitespace(text)


def rule_template(source: str, origin: str) -> "RuleTemplate | str":
    """Return the text that `source` renders as when it has no Jinja2 syntax, else a RuleTemplate."""
    if "{" not in source:
        return _collapse_whitespace(source)
    return RuleTemplate(source, origin)


def _compiled(source: str, origin: str) -> "_Renderer":
    from jinja2 import TemplateSyntaxError

    try:
        return _compile(source)
    except TemplateSyntaxError as error:
        raise RuleFileError(f"{origin}: expected a valid Jinja2 template, found a syntax error on line {error.lineno}: {error.message}") from None


def _render_failure(error: Exception, origin: str) -> "RuleFileError | None":
    """Return the RuleFileError for an error that a template raised, or None to re-raise it.

    Called only when a render fails, so the Jinja2 exception classes are imported there.
    """
    from jinja2.exceptions import SecurityError, UndefinedError

    if isinstance(error, SecurityError):
        return RuleFileError(f"{origin}: the template does something the sandbox forbids ({error}); use only fact values and plain filters")
    if isinstance(error, UndefinedError):
        if isinstance(error.__cause__, SecurityError) or "unsafe" in str(error):
            return RuleFileError(f"{origin}: the template does something the sandbox forbids ({error}); use only fact values and plain filters")
        return RuleFileError(f"{origin}: the template uses an absent value in an operation ({error}); guard it with `or` or an `if`")
    if isinstance(error, (TypeError, ValueError, ArithmeticError, LookupError)):
        return RuleFileError(f"{origin}: the template failed with {type(error).__name__}: {error}")
    return None


def _collapse_whitespace(text: str) -> str:
    """Return `text` with each run of whitespace as one space, and none at either end."""
    # Text whose only whitespace is single spaces, none at an end, is already collapsed.
    # Rendered rule text almost always is, and the tests build no list of words.
    if text[:1] != " " and text[-1:] != " " and "  " not in text:
        if text.isascii():
            # The other characters that str.split() splits ASCII text at, each found with
            # memchr. isprintable() looked up the Unicode properties of every character,
            # about a tenth of the longest message's render (callgrind, Python 3.11).
            if not (
                "\n" in text or "\t" in text or "\r" in text or "\x0b" in text or "\x0c" in text
                or "\x1c" in text or "\x1d" in text or "\x1e" in text or "\x1f" in text
            ):
                return text
        elif text.isprintable():
            # str.split() splits at every Unicode whitespace character, and each of them
            # except the space is unprintable.
            return text
    return " ".join(text.split())


def check_syntax(source: str, origin: str) -> None:
    """Compile a template without rendering it; raise RuleFileError on a syntax error."""
    from jinja2 import TemplateSyntaxError

    try:
        _compile(source)
    except TemplateSyntaxError as error:
        raise RuleFileError(f"{origin}: expected a valid Jinja2 template, found a syntax error on line {error.lineno}: {error.message}") from None
