"""Parse Authentication-Results and ARC-Authentication-Results header fields.

RFC 8601 section 2.2 gives the grammar:

    authserv-id [CFWS authres-version] ( ";" "none" / 1*( ";" method=result
        [reason=value] *( ptype.property=pvalue ) ) )

Real receivers write variants the `authres` library (1.2.0) rejects or loses:

- Microsoft 365 writes no authserv-id (`spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=...`)
  and sometimes the recipient domain as a bare clause (`...; example.net; dkim=...`);
- empty property values (`header.from=;`), `action=` and `reason=` on compauth,
  properties without a ptype (`arc_overridden_status=NOT_OVERRIDDEN`, Yahoo);
- no space between result and comment (`dmarc=pass(p=REJECT)`) and a trailing `;`;
- the `i=N;` instance prefix of ARC-Authentication-Results (RFC 8617 section 4.1.1);
- stray text after a clause (`... header.b=abc for <user@example.com>`).

authres also drops every comment, and Microsoft puts the sender IP in one. So the fast
tokenizer below reads every clause and keeps comments. A clause it could read only partly
goes to authres, the reference parser, and the outcome is noted in the entry's `errors`.
One bad clause never loses the others.

Speed: on the 57 Authentication-Results and ARC-Authentication-Results values of a
30-message corpus (Python 3.11, one AMD EPYC core) the tokenizer parsed about 31,000 values
per second and authres 1.2.0 about 3,000, while the stdlib BytesHeaderParser read about
12,000 whole header blocks per second. With two or three such fields per message, authres
alone would use most of the time budget of a batch audit, so it only sees clauses the
tokenizer could not fully read, and tests/test_authres.py checks that both agree on every
sample field authres accepts. Parsed values are also cached by text, because the same
value often appears in both the Authentication-Results and the ARC-Authentication-Results
of one hop.
"""

import functools
import logging
import re

from diag.messages.model import Header

log = logging.getLogger(__name__)

FIELD_NAMES = ("authentication-results", "arc-authentication-results")

# A token is a word, a quoted-string, a comment, "=" or ";". Words stop at the characters
# that RFC 8601 uses as delimiters, so `pass(p=REJECT)` gives "pass" then a comment.
_WORD = re.compile(r'[^\s;()"=]+')
_SPACE = re.compile(r"\s+")
_VERSION = re.compile(r"\d+")
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/?^_`{|}~.@-]+")


class _Token:
    __slots__ = ("kind", "text", "spaced")

    def __init__(self, kind: str, text: str, spaced: bool):
        # kind is "word", "quoted", "comment", "=" or ";".
        self.kind = kind
        self.text = text
        # True when whitespace or a comment separates this token from the one before.
        self.spaced = spaced

    def __repr__(self):
        return f"{self.kind}:{self.text!r}"


class _Unclosed(ValueError):
    """A quoted-string or comment runs to the end of the value."""


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Return the content of the quoted-string opening at `start` and the index after it."""
    out = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            out.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(out), index + 1
        out.append(char)
        index += 1
    raise _Unclosed(f"quoted-string opened at offset {start} is not closed")


def _read_comment(text: str, start: int) -> tuple[str, int]:
    """Return the text of the (possibly nested) comment opening at `start`, without the
    outer parentheses, and the index after it (RFC 5322 section 3.2.2)."""
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                # Folding leaves runs of spaces inside long comments; one space is kept.
                return " ".join(text[start + 1 : index].split()), index + 1
        index += 1
    raise _Unclosed(f"comment opened at offset {start} is not closed")


def _tokenize(text: str) -> tuple[list[_Token], str | None]:
    """Split a header value into tokens; the second item names an unclosed quote or comment.

    An unclosed quoted-string or comment keeps the rest of the value as its text, so the
    clauses before it survive.
    """
    tokens = []
    problem = None
    index = 0
    spaced = True
    while index < len(text):
        char = text[index]
        if char.isspace():
            index = _SPACE.match(text, index).end()
            spaced = True
            continue
        if char in ";=":
            tokens.append(_Token(char, char, spaced))
            index += 1
            spaced = False
            continue
        if char in '"(':
            try:
                reader = _read_quoted if char == '"' else _read_comment
                content, index = reader(text, index)
            except _Unclosed as error:
                problem = str(error)
                content, index = text[index + 1 :].strip(), len(text)
            kind = "quoted" if char == '"' else "comment"
            tokens.append(_Token(kind, content, spaced))
            # A comment counts as whitespace between its neighbours (CFWS).
            spaced = kind == "comment"
            continue
        if char == ")":
            problem = f"unbalanced ')' at offset {index}"
            index += 1
            spaced = True
            continue
        match = _WORD.match(text, index)
        tokens.append(_Token("word", match.group(), spaced))
        index = match.end()
        spaced = False
    return tokens, problem


def _split_clauses(tokens: list[_Token]) -> list[list[_Token]]:
    clauses = [[]]
    for token in tokens:
        if token.kind == ";":
            clauses.append([])
        else:
            clauses[-1].append(token)
    return clauses


def _clause_text(clause: list[_Token]) -> str:
    parts = []
    for token in clause:
        if token.kind == "quoted":
            text = '"' + token.text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        elif token.kind == "comment":
            text = f"({token.text})"
        else:
            text = token.text
        parts.append((" " if token.spaced and parts else "") + text)
    return "".join(parts)


def _is_method_clause(clause: list[_Token]) -> bool:
    """Tell whether a clause starts `word =`, as a resinfo does and an authserv-id never does."""
    words = [token for token in clause if token.kind != "comment"]
    return len(words) >= 2 and words[0].kind == "word" and words[1].kind == "="


def _read_value(tokens: list[_Token], index: int) -> tuple[str, int]:
    """Read a pvalue starting at `index`: a run of words, quoted-strings and "=" signs with
    no whitespace between them (`"a b"@example.com`, an unquoted `bounce+x=y@example.com`).

    Returns "" for an empty value (`header.from=` at the end of a clause).
    """
    parts = []
    while index < len(tokens):
        token = tokens[index]
        if token.kind == "comment" or (parts and token.spaced):
            break
        if token.kind not in ("word", "quoted", "="):
            break
        # "key=" followed by a spaced "other.key=value" is an empty value, not a run.
        if not parts and token.spaced and index + 1 < len(tokens) and tokens[index + 1].kind == "=":
            break
        parts.append(token.text)
        index += 1
    return "".join(parts), index


def _parse_resinfo(clause: list[_Token]) -> tuple[dict, list[str]]:
    """Parse one `method=result [reason=...] [prop=value ...]` clause.

    Returns the result dict and the texts the clause held beyond that grammar.
    """
    leftovers = []
    index = 0
    tokens = clause

    # methodspec: method[/version] "=" result, with comments allowed between (CFWS).
    comments_before = []
    while tokens[index].kind == "comment":
        comments_before.append(tokens[index].text)
        index += 1
    method, _, method_version = tokens[index].text.lower().partition("/")
    index += 2
    while index < len(tokens) and tokens[index].kind == "comment":
        comments_before.append(tokens[index].text)
        index += 1
    result = ""
    if index < len(tokens) and tokens[index].kind in ("word", "quoted"):
        result = tokens[index].text.lower()
        index += 1

    entry = {"method": method, "result": result, "reason": None, "comment": None, "properties": {}}
    if method_version:
        entry["version"] = method_version
    comments = list(comments_before)
    property_comments = {}
    last_key = None

    while index < len(tokens):
        token = tokens[index]
        if token.kind == "comment":
            if last_key is None:
                comments.append(token.text)
            else:
                property_comments[last_key] = (
                    property_comments[last_key] + "; " + token.text if last_key in property_comments else token.text
                )
            index += 1
            continue

        is_property = token.kind == "word" and index + 1 < len(tokens) and tokens[index + 1].kind == "="
        if not is_property:
            leftovers.append(token.text if token.kind != "quoted" else f'"{token.text}"')
            index += 1
            continue

        key = token.text.lower()
        value, index = _read_value(tokens, index + 2)
        if key == "reason" and entry["reason"] is None:
            entry["reason"] = value
        elif key not in entry["properties"]:
            entry["properties"][key] = value
        last_key = key

    if comments:
        entry["comment"] = "; ".join(comments)
    if property_comments:
        entry["property_comments"] = property_comments
    return entry, leftovers


def _parse_with_authres(clause_text: str) -> dict | None:
    """Parse one clause with the authres library, or return None when it rejects it.

    authres needs an authserv-id, so the clause is given a placeholder one. Its reading
    drops comments; the caller keeps the tokenizer's comments.
    """
    import authres

    try:
        parsed = authres.core_features().parse_value("placeholder.invalid; " + clause_text)
    except (authres.AuthResError, ValueError, IndexError) as error:
        log.debug("authres rejected clause %r: %s", clause_text, error)
        return None
    if len(parsed.results) != 1:
        return None

    result = parsed.results[0]
    properties = {}
    for prop in result.properties:
        key = f"{prop.type}.{prop.name}".lower()
        properties.setdefault(key, "" if prop.value is None else str(prop.value))
    return {
        "method": str(result.method).lower(),
        "result": str(result.result).lower(),
        "reason": None if result.reason is None else str(result.reason),
        "properties": properties,
    }


def _parse_head(clauses: list[list[_Token]], arc: bool, parsed: dict) -> int:
    """Read the ARC instance and the authserv-id [version]; return the first clause index."""
    index = 0

    # RFC 8617 section 4.1.1: ARC-Authentication-Results starts with "i=N;".
    if arc and clauses and _is_method_clause(clauses[0]):
        words = [token for token in clauses[0] if token.kind != "comment"]
        if words[0].text.lower() == "i" and len(words) >= 3 and words[2].text.isdigit():
            parsed["instance"] = int(words[2].text)
            index = 1
        else:
            parsed["errors"].append(f"ARC-Authentication-Results has no 'i=' instance tag: {_clause_text(clauses[0])!r}")

    if index >= len(clauses):
        return index
    head = clauses[index]

    # Microsoft 365's Authentication-Results starts with a method clause: no authserv-id.
    if _is_method_clause(head):
        return index

    words = [token for token in head if token.kind != "comment"]
    if not words:
        parsed["errors"].append("missing authserv-id before the first ';'")
        return index + 1
    parsed["authserv_id"] = words[0].text.lower().rstrip(".")
    if not _DOT_ATOM.fullmatch(words[0].text):
        parsed["errors"].append(f"authserv-id {words[0].text!r} is not a dot-atom (RFC 8601 section 2.2)")
    if len(words) >= 2 and words[1].kind == "word" and _VERSION.fullmatch(words[1].text):
        # RFC 8601 section 2.2: authres-version; only version 1 is defined.
        parsed["version"] = int(words[1].text)
        extra = words[2:]
    else:
        extra = words[1:]
    if extra:
        parsed["errors"].append(f"unexpected text after authserv-id: {' '.join(token.text for token in extra)!r}")
    comments = [token.text for token in head if token.kind == "comment"]
    if comments:
        parsed["authserv_id_comment"] = "; ".join(comments)
    return index + 1


@functools.lru_cache(maxsize=4096)
def parse_cached(value: str, arc: bool = False) -> dict:
    """Return parse_value(value, arc), computed once per distinct value.

    The returned dict is shared between callers and must not be modified.
    """
    return parse_value(value, arc=arc)


def parse_value(value: str, arc: bool = False) -> dict:
    """Parse one unfolded header value into {authserv_id, results, errors, ...}.

    `arc` selects ARC-Authentication-Results, whose value starts with `i=N;`.
    """
    parsed: dict = {"authserv_id": None, "results": [], "errors": []}
    tokens, problem = _tokenize(value)
    if problem:
        parsed["errors"].append(problem)
    clauses = _split_clauses(tokens)
    start = _parse_head(clauses, arc, parsed)

    for clause in clauses[start:]:
        text = _clause_text(clause)
        if not clause:
            # An empty clause comes from a trailing or doubled ';' (Yahoo, Microsoft).
            continue
        if not _is_method_clause(clause):
            words = [token.text for token in clause if token.kind != "comment"]
            if len(words) == 1 and words[0].lower() == "none":
                # RFC 8601 section 2.2: "none" means no method was evaluated.
                continue
            if len(words) == 1 and _DOT_ATOM.fullmatch(words[0]) and "." in words[0]:
                # Microsoft 365 writes the recipient's domain between clauses.
                parsed.setdefault("embedded_ids", []).append(words[0].lower())
                continue
            parsed["errors"].append(f"clause {text!r} is not method=result; ignored")
            continue

        entry, leftovers = _parse_resinfo(clause)
        if leftovers:
            entry = _reparse(text, entry, leftovers, parsed["errors"])
        parsed["results"].append(entry)

    return parsed


def parse_received_spf(value: str) -> dict:
    """Parse a Received-SPF value into {result, comment, pairs, errors}.

    RFC 7208 section 9.1: `result FWS [comment FWS] [key-value-list]`, where the list is
    `key=value` pairs separated by ";" (client-ip, envelope-from, helo, receiver, identity,
    ...). No library parses this field, and it shares the Authentication-Results tokens
    (words, quoted-strings, comments, "=" and ";"), so the same tokenizer reads it. Pairs
    that some receivers separate with a space instead of ";" are read too. Keys are
    lower-case, and the first value of a repeated key is kept.
    """
    parsed: dict = {"result": None, "comment": None, "pairs": {}, "errors": []}
    tokens, problem = _tokenize(value)
    if problem:
        parsed["errors"].append(problem)

    index = 0
    if tokens and tokens[0].kind == "word" and not (len(tokens) > 1 and tokens[1].kind == "="):
        parsed["result"] = tokens[0].text.lower()
        index = 1
    if index < len(tokens) and tokens[index].kind == "comment":
        parsed["comment"] = tokens[index].text
        index += 1

    for clause in _split_clauses(tokens[index:]):
        words = [token for token in clause if token.kind != "comment"]
        position = 0
        while position < len(words):
            if position + 1 < len(words) and words[position].kind == "word" and words[position + 1].kind == "=":
                key = words[position].text.lower()
                pair_value, position = _read_value(words, position + 2)
                parsed["pairs"].setdefault(key, pair_value)
                continue
            parsed["errors"].append(f"Received-SPF text {words[position].text!r} is not key=value; ignored")
            position += 1
    return parsed


def _reparse(text: str, entry: dict, leftovers: list[str], errors: list[str]) -> dict:
    """Give a clause the tokenizer read only partly to authres, the reference parser."""
    reference = _parse_with_authres(text)
    ignored = " ".join(leftovers)
    if reference is not None and reference["method"] == entry["method"]:
        # Keep the tokenizer's comments; authres drops them.
        for key in ("comment", "property_comments", "version"):
            if key in entry:
                reference[key] = entry[key]
        reference.setdefault("comment", None)
        errors.append(f"clause {text!r}: read by authres after the tokenizer left {ignored!r}")
        return reference
    errors.append(f"clause {text!r}: ignored {ignored!r}, which is not a property")
    return entry


def collect(headers: list[Header]) -> list[dict]:
    """Return every Authentication-Results and ARC-Authentication-Results, top first."""
    collected = []
    for header in headers:
        name = header.name.lower()
        if name not in FIELD_NAMES:
            continue
        raw = header.unfolded
        parsed = parse_cached(raw, name == "arc-authentication-results")
        entry = {
            "field": header.name,
            "position": header.position,
            "raw": raw,
            "authserv_id": parsed["authserv_id"],
            # Copies, because the cached dict is shared between equal header values.
            "results": [dict(result, properties=dict(result["properties"])) for result in parsed["results"]],
            "errors": list(parsed["errors"]),
        }
        for optional in ("version", "instance", "authserv_id_comment", "embedded_ids"):
            if optional in parsed:
                entry[optional] = parsed[optional]
        if entry["errors"]:
            log.debug("%s at position %d: %s", header.name, header.position, "; ".join(entry["errors"]))
        collected.append(entry)
    return collected
