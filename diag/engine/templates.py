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
from importlib.util import MAGIC_NUMBER
from typing import Any

from diag.engine.cache import CACHE_ENV, read_entry, write_entry  # noqa: F401 (CACHE_ENV is part of this module's interface)
from diag.errors import RuleFileError

log = logging.getLogger(__name__)

# Compiling one template took about 1 ms in a development container, more than evaluating
# every rule, so compiled code is kept in the per-user cache folder (see diag.engine.cache).


@functools.lru_cache(maxsize=1)
def _environment():
    from jinja2 import ChainableUndefined
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
        """

        def visit_Getattr(self, node, frame):
            if self.environment.is_async or node.attr in dict_attributes:
                super().visit_Getattr(node, frame)
                return
            # The conditions run before the branches they choose, so each := assigns the
            # name before the branch that reads it.
            value = self.temporary_identifier()
            target = self.temporary_identifier()
            self.write(f"({value} if ({value} := ({target}.get({node.attr!r}, missing) if type({target} := ")
            self.visit(node.node, frame)
            self.write(f") is dict else missing)) is not missing else environment.getattr({target}, {node.attr!r}))")

    # Autoescape is off because each reporter escapes for its own format (HTML, Markdown, SARIF).
    # NOTE: the sandbox limits attribute access and calls, not CPU or memory; a template
    # such as {{ "x" * 10**9 }} still runs.
    environment = FactsSandbox(autoescape=False, undefined=QuietUndefined, keep_trailing_newline=False)
    environment.code_generator_class = FactsCodeGenerator
    environment.filters["esp_name"] = _esp_name
    return environment


# Changed whenever FactsCodeGenerator writes different code, so older cache entries are not used.
_GENERATED_CODE_VERSION = "facts-getattr-1"


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


@functools.lru_cache(maxsize=1)
def _jinja_errors() -> tuple[type, type, type]:
    """Return Jinja2's TemplateSyntaxError, SecurityError and UndefinedError, imported once.

    render() runs several times per message, and an import statement in it cost more than
    the lookup of a cached result.
    """
    from jinja2 import TemplateSyntaxError
    from jinja2.exceptions import SecurityError, UndefinedError

    return TemplateSyntaxError, SecurityError, UndefinedError


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

    TemplateSyntaxError, SecurityError, UndefinedError = _jinja_errors()

    try:
        renderer = _compile(source)
    except TemplateSyntaxError as error:
        raise RuleFileError(f"{origin}: expected a valid Jinja2 template, found a syntax error on line {error.lineno}: {error.message}") from None

    try:
        text = renderer.render(facts, item, docs)
    except SecurityError as error:
        raise RuleFileError(f"{origin}: the template does something the sandbox forbids ({error}); use only fact values and plain filters") from None
    except UndefinedError as error:
        if isinstance(error.__cause__, SecurityError) or "unsafe" in str(error):
            raise RuleFileError(f"{origin}: the template does something the sandbox forbids ({error}); use only fact values and plain filters") from None
        raise RuleFileError(f"{origin}: the template uses an absent value in an operation ({error}); guard it with `or` or an `if`") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as error:
        raise RuleFileError(f"{origin}: the template failed with {type(error).__name__}: {error}") from None
    return _collapse_whitespace(text)


def _collapse_whitespace(text: str) -> str:
    """Return `text` with each run of whitespace as one space, and none at either end."""
    # str.split() splits at every Unicode whitespace character, and each of them except the
    # space is unprintable. Text that is printable, with no double space and no space at an
    # end, is therefore already collapsed. Rendered rule text almost always is, and the
    # test builds no list of words.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def check_syntax(source: str, origin: str) -> None:
    """Compile a template without rendering it; raise RuleFileError on a syntax error."""
    from jinja2 import TemplateSyntaxError

    try:
        _compile(source)
    except TemplateSyntaxError as error:
        raise RuleFileError(f"{origin}: expected a valid Jinja2 template, found a syntax error on line {error.lineno}: {error.message}") from None
