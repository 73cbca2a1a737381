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

authres also drops every comment, and Microsoft puts the sender IP in one. So this module
reads every clause itself and keeps comments. Values of the common form (see
_parse_common) are read with one regular expression match per clause, and all others go
through the tokenizer. A clause the tokenizer could read only partly goes to authres, the
reference parser, and the outcome is noted in the entry's `errors`. One bad clause never
loses the others.

Speed: on the Authentication-Results values of samples/headers/auth-*.txt that authres
accepts (bench/run.py --only authres, Python 3.11, one AMD EPYC core), this module read
about 180,000 values per second and authres 1.2.0 about 4,500, 40 times fewer. With
two or three such fields per message, authres alone would use most of the time budget of
a batch audit. So it is given only the clauses the tokenizer could not fully read.
tests/test_authres.py checks that both agree on every sample field authres accepts.
Parsed values are not cached: in real mail most values differ (header.b, addresses), so a
cache keyed by the text would only help a benchmark that repeats its messages.
"""

import logging
import re
from operator import attrgetter

from diag.messages.model import Header, fields_by_name

log = logging.getLogger(__name__)

FIELD_NAMES = ("authentication-results", "arc-authentication-results")

# A token is a word, a quoted-string, a comment, "=" or ";". Words stop at the characters
# that RFC 8601 uses as delimiters, so `pass(p=REJECT)` gives "pass" then a comment.
_WORD = re.compile(r'[^\s;()"=]+')
_SPACE = re.compile(r"\s+")
_VERSION = re.compile(r"\d+")
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/?^_`{|}~.@-]+")

# The common form of a value, read by _parse_common with one match per clause. Every
# quantifier is possessive, so no part gives characters back to another and a value of
# another form fails at once and goes to the tokenizer.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/?^_`{|}~.@-]"
_TOKEN_TEXT = r'[^\s;()"=]'
_FLAT_COMMENT = r"\([^()]*+\)"
_END_OF_CLAUSE = r"\s*+(?:;|\Z)"
# A pvalue: words, quoted-strings and "=" signs with no space between (see _read_value).
_PROPERTY_VALUE = r'(?:[^\s;()"]++|"[^"]*+")*+'
# RFC 8617 section 4.1.1: "i=N;" starts an ARC-Authentication-Results.
_COMMON_INSTANCE = re.compile(r"\s*+[iI]\s*+=\s*+([0-9]++)\s*+;")
# authserv-id [authres-version]
_COMMON_HEAD = re.compile(rf"\s*+({_ATEXT}++)(?:\s++([0-9]++))?+{_END_OF_CLAUSE}")
# method[/version]=result, comments on the result, then key=value pairs with their comments.
_COMMON_RESINFO = re.compile(
    rf"\s*+({_TOKEN_TEXT}++)\s*+=\s*+({_TOKEN_TEXT}++)((?:\s*+{_FLAT_COMMENT})*+)"
    rf"((?:\s++{_TOKEN_TEXT}++={_PROPERTY_VALUE}(?:\s*+{_FLAT_COMMENT})*+)*+){_END_OF_CLAUSE}"
)
# The same clause when its properties have no comment or quoted-string, the usual case.
# Matching the property text as one run and splitting it at whitespace (_plain_resinfo)
# took about half the instructions of matching each property in the pattern (callgrind,
# Python 3.11, the benchmark's message templates).
_COMMON_PLAIN_RESINFO = re.compile(
    rf"\s*+({_TOKEN_TEXT}++)\s*+=\s*+({_TOKEN_TEXT}++)((?:\s*+{_FLAT_COMMENT})*+)([^;()\"]*+)(?:;|\Z)"
)
_COMMON_PROPERTY = re.compile(rf"({_TOKEN_TEXT}++)=({_PROPERTY_VALUE})((?:\s*+{_FLAT_COMMENT})*+)")
# A clause of one word: "none", or the recipient domain that Microsoft 365 writes.
_COMMON_WORD = re.compile(rf"\s*+({_ATEXT}++){_END_OF_CLAUSE}")
_COMMON_EMPTY = re.compile(_END_OF_CLAUSE)
_COMMENT_TEXT = re.compile(r"\(([^()]*+)\)")

# The same tokens for a value without backslashes, in one C-level pass: the whitespace
# before a token, then ";" or "=", a quoted-string, a comment without nested parentheses,
# or a word. A '"', "(" or ")" that starts none of these (an unclosed quoted-string or
# comment, a nested comment, a stray ")") lands in the last group. Without backslashes no
# pair can be escaped, so a failed quoted-string or comment match scans at most to the
# next '"' or parenthesis, which keeps the scan linear.
_TOKEN = re.compile(r'(\s*)(?:([;=])|("[^"]*")|(\([^()]*\))|([^\s;()"=]+)|(["()]))')

# Tokens are (kind, text, spaced) tuples, because creating a class instance per token
# was a large part of the parse time. kind is "word", "quoted", "comment", "=" or ";". spaced is
# True when whitespace or a comment separates the token from the one before, and for the
# first token.
_KIND = 0
_TEXT = 1


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


def _tokenize(text: str) -> tuple[list[tuple], str | None]:
    """Split a header value into tokens; the second item names an unclosed quote or comment.

    Values with a backslash (a quoted-pair), a nested comment, an unclosed quoted-string
    or comment or a stray ")" go to _tokenize_by_character, which returns the same tokens
    for the values that this function reads.
    """
    if "\\" in text:
        return _tokenize_by_character(text)

    tokens = []
    after_comment = True
    for space, delimiter, quoted, comment, word, unmatched in _TOKEN.findall(text):
        spaced = after_comment or space != ""
        after_comment = False
        if word:
            tokens.append(("word", word, spaced))
        elif delimiter:
            tokens.append((delimiter, delimiter, spaced))
        elif comment:
            # Folding leaves runs of spaces inside long comments; one space is kept.
            tokens.append(("comment", " ".join(comment[1:-1].split()), spaced))
            # A comment counts as whitespace between its neighbours (CFWS).
            after_comment = True
        elif quoted:
            tokens.append(("quoted", quoted[1:-1], spaced))
        else:
            return _tokenize_by_character(text)
    return tokens, None


def _tokenize_by_character(text: str) -> tuple[list[tuple], str | None]:
    """Tokenize any value, one character at a time; see _tokenize.

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
            tokens.append((char, char, spaced))
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
            tokens.append((kind, content, spaced))
            # A comment counts as whitespace between its neighbours (CFWS).
            spaced = kind == "comment"
            continue
        if char == ")":
            problem = f"unbalanced ')' at offset {index}"
            index += 1
            spaced = True
            continue
        match = _WORD.match(text, index)
        tokens.append(("word", match.group(), spaced))
        index = match.end()
        spaced = False
    return tokens, problem


def _split_clauses(tokens: list[tuple]) -> list[list[tuple]]:
    clauses = [[]]
    clause = clauses[0]
    for token in tokens:
        if token[_KIND] == ";":
            clause = []
            clauses.append(clause)
        else:
            clause.append(token)
    return clauses


def _clause_text(clause: list[tuple]) -> str:
    parts = []
    for kind, text, spaced in clause:
        if kind == "quoted":
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        elif kind == "comment":
            text = f"({text})"
        parts.append((" " if spaced and parts else "") + text)
    return "".join(parts)


def _words(clause: list[tuple]) -> list[tuple]:
    """Return the tokens of a clause other than comments."""
    return [token for token in clause if token[_KIND] != "comment"]


def _is_method_clause(clause: list[tuple]) -> bool:
    """Tell whether a clause starts `word =`, as a resinfo does and an authserv-id never does."""
    first = None
    for token in clause:
        kind = token[_KIND]
        if kind == "comment":
            continue
        if first is None:
            first = kind
            continue
        return first == "word" and kind == "="
    return False


def _read_value(tokens: list[tuple], index: int) -> tuple[str, int]:
    """Read a pvalue starting at `index`: a run of words, quoted-strings and "=" signs with
    no whitespace between them (`"a b"@example.com`, an unquoted `bounce+x=y@example.com`).

    Returns "" for an empty value (`header.from=` at the end of a clause).
    """
    parts = []
    count = len(tokens)
    while index < count:
        kind, text, spaced = tokens[index]
        if kind == "comment" or (parts and spaced):
            break
        if kind not in ("word", "quoted", "="):
            break
        # "key=" followed by a spaced "other.key=value" is an empty value, not a run.
        if not parts and spaced and index + 1 < count and tokens[index + 1][_KIND] == "=":
            break
        parts.append(text)
        index += 1
    return "".join(parts), index


def _parse_resinfo(clause: list[tuple]) -> tuple[dict, list[str]]:
    """Parse one `method=result [reason=...] [prop=value ...]` clause.

    Returns the result dict and the texts the clause held beyond that grammar.
    """
    leftovers = []
    index = 0
    tokens = clause
    count = len(tokens)

    # methodspec: method[/version] "=" result, with comments allowed between (CFWS).
    comments = []
    while tokens[index][_KIND] == "comment":
        comments.append(tokens[index][_TEXT])
        index += 1
    method, _, method_version = tokens[index][_TEXT].lower().partition("/")
    index += 2
    while index < count and tokens[index][_KIND] == "comment":
        comments.append(tokens[index][_TEXT])
        index += 1
    result = ""
    if index < count and tokens[index][_KIND] in ("word", "quoted"):
        result = tokens[index][_TEXT].lower()
        index += 1

    properties: dict = {}
    entry = {"method": method, "result": result, "reason": None, "comment": None, "properties": properties}
    if method_version:
        entry["version"] = method_version
    property_comments = {}
    last_key = None

    while index < count:
        kind, text, _ = tokens[index]
        if kind == "comment":
            if last_key is None:
                comments.append(text)
            elif last_key in property_comments:
                property_comments[last_key] += "; " + text
            else:
                property_comments[last_key] = text
            index += 1
            continue

        is_property = kind == "word" and index + 1 < count and tokens[index + 1][_KIND] == "="
        if not is_property:
            leftovers.append(text if kind != "quoted" else f'"{text}"')
            index += 1
            continue

        key = text.lower()
        value, index = _read_value(tokens, index + 2)
        if key == "reason" and entry["reason"] is None:
            entry["reason"] = value
        elif key not in properties:
            properties[key] = value
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


def _parse_head(clauses: list[list[tuple]], arc: bool, parsed: dict) -> int:
    """Read the ARC instance and the authserv-id [version]; return the first clause index."""
    index = 0

    # RFC 8617 section 4.1.1: ARC-Authentication-Results starts with "i=N;".
    if arc and clauses and _is_method_clause(clauses[0]):
        words = _words(clauses[0])
        if words[0][_TEXT].lower() == "i" and len(words) >= 3 and words[2][_TEXT].isdigit():
            parsed["instance"] = int(words[2][_TEXT])
            index = 1
        else:
            parsed["errors"].append(f"ARC-Authentication-Results has no 'i=' instance tag: {_clause_text(clauses[0])!r}")

    if index >= len(clauses):
        return index
    head = clauses[index]

    # Microsoft 365's Authentication-Results starts with a method clause: no authserv-id.
    if _is_method_clause(head):
        return index

    words = _words(head)
    if not words:
        parsed["errors"].append("missing authserv-id before the first ';'")
        return index + 1
    authserv_id = words[0][_TEXT]
    parsed["authserv_id"] = authserv_id.lower().rstrip(".")
    if not _DOT_ATOM.fullmatch(authserv_id):
        parsed["errors"].append(f"authserv-id {authserv_id!r} is not a dot-atom (RFC 8601 section 2.2)")
    if len(words) >= 2 and words[1][_KIND] == "word" and _VERSION.fullmatch(words[1][_TEXT]):
        # RFC 8601 section 2.2: authres-version; only version 1 is defined.
        parsed["version"] = int(words[1][_TEXT])
        extra = words[2:]
    else:
        extra = words[1:]
    if extra:
        parsed["errors"].append(f"unexpected text after authserv-id: {' '.join(token[_TEXT] for token in extra)!r}")
    comments = [text for kind, text, _ in head if kind == "comment"]
    if comments:
        parsed["authserv_id_comment"] = "; ".join(comments)
    return index + 1


def _comment_texts(text: str) -> list[str]:
    """Return the comments of a run of flat comments, whitespace collapsed as _read_comment does."""
    return [" ".join(comment.split()) for comment in _COMMENT_TEXT.findall(text)]


def _new_entry(method_text: str, result: str, result_comments: str | None) -> dict:
    """Start the result of one clause: method, its version, result and the result's comments."""
    method = method_text.lower()
    entry = {"method": method, "result": result.lower(), "reason": None, "comment": None, "properties": {}}
    if "/" in method:
        entry["method"], _, version = method.partition("/")
        if version:
            entry["version"] = version
    if result_comments:
        entry["comment"] = "; ".join(_comment_texts(result_comments))
    return entry


def _common_resinfo(match: re.Match) -> dict:
    """Build the result of one clause that _COMMON_RESINFO matched, as _parse_resinfo would."""
    method_text, result, result_comments, property_text = match.groups()
    entry = _new_entry(method_text, result, result_comments)
    properties = entry["properties"]
    if not property_text:
        return entry

    property_comments: dict = {}
    for key, value, comments in _COMMON_PROPERTY.findall(property_text):
        key = key.lower()
        if '"' in value:
            # The value of `"a b"@example.com` is `a b@example.com`, as _read_value joins it.
            value = value.replace('"', "")
        if key == "reason" and entry["reason"] is None:
            entry["reason"] = value
        elif key not in properties:
            properties[key] = value
        if comments:
            texts = _comment_texts(comments)
            if key in property_comments:
                texts.insert(0, property_comments[key])
            property_comments[key] = "; ".join(texts)
    if property_comments:
        entry["property_comments"] = property_comments
    return entry


def _plain_resinfo(match: re.Match) -> dict | None:
    """Build the result of a clause that _COMMON_PLAIN_RESINFO matched, as _common_resinfo
    would, or return None when its property text is not `key=value` words each after
    whitespace, the form _COMMON_RESINFO requires."""
    method_text, result, result_comments, property_text = match.groups()
    if property_text and not property_text[0].isspace() and not property_text.isspace():
        return None

    entry = _new_entry(method_text, result, result_comments)
    properties = entry["properties"]

    for word in property_text.split():
        key, equals, property_value = word.partition("=")
        if not key or not equals:
            return None
        key = key.lower()
        if key == "reason" and entry["reason"] is None:
            entry["reason"] = property_value
        elif key not in properties:
            properties[key] = property_value
    return entry


def _parse_common(value: str, arc: bool) -> dict | None:
    """Parse a value of the common form, or return None so that the tokenizer reads it.

    The common form has no quoted-string, backslash or nested comment, an authserv-id with
    at most a version and no comment, and clauses that are "none", a bare domain or
    `method=result (comment) key=value (comment) ...` with no space around the "=" of a
    property. Microsoft 365, Gmail and most other receivers write that form. The result is
    the one the tokenizer returns for the same value, and tests/test_authres.py compares
    the two. It takes about 0.6 of the tokenizer's time.
    """
    if "\\" in value:
        return None
    parsed: dict = {"authserv_id": None, "results": [], "errors": []}
    position = 0

    if arc:
        match = _COMMON_INSTANCE.match(value)
        if match is None:
            return None
        parsed["instance"] = int(match[1])
        position = match.end()

    match = _COMMON_HEAD.match(value, position)
    if match is not None:
        parsed["authserv_id"] = match[1].lower().rstrip(".")
        if match[2] is not None:
            parsed["version"] = int(match[2])
        position = match.end()
    else:
        # Without an authserv-id the first clause must be a resinfo (Microsoft 365).
        read = _common_resinfo_at(value, position)
        if read is None:
            return None
        parsed["results"].append(read[0])
        position = read[1]

    while position < len(value):
        read = _common_resinfo_at(value, position)
        if read is not None:
            parsed["results"].append(read[0])
            position = read[1]
            continue
        match = _COMMON_EMPTY.match(value, position) or _COMMON_WORD.match(value, position)
        if match is None:
            return None
        word = match[1] if match.lastindex else None
        if word is not None and word.lower() != "none":
            if "." not in word:
                return None
            parsed.setdefault("embedded_ids", []).append(word.lower())
        position = match.end()
    return parsed


def _common_resinfo_at(value: str, position: int) -> tuple[dict, int] | None:
    """Read the resinfo clause of the common form at `position`: (result, index after it),
    or None when the clause has another form."""
    match = _COMMON_PLAIN_RESINFO.match(value, position)
    if match is not None:
        entry = _plain_resinfo(match)
        if entry is not None:
            return entry, match.end()
    match = _COMMON_RESINFO.match(value, position)
    if match is None:
        return None
    return _common_resinfo(match), match.end()


def parse_value(value: str, arc: bool = False) -> dict:
    """Parse one unfolded header value into {authserv_id, results, errors, ...}.

    `arc` selects ARC-Authentication-Results, whose value starts with `i=N;`.
    """
    parsed = _parse_common(value, arc)
    if parsed is not None:
        return parsed
    return _parse_tokens(value, arc)


def _parse_tokens(value: str, arc: bool) -> dict:
    """Parse any value through the tokenizer; see parse_value."""
    parsed: dict = {"authserv_id": None, "results": [], "errors": []}
    tokens, problem = _tokenize(value)
    if problem:
        parsed["errors"].append(problem)
    clauses = _split_clauses(tokens)
    start = _parse_head(clauses, arc, parsed)

    for clause in clauses[start:]:
        if not clause:
            # An empty clause comes from a trailing or doubled ';' (Yahoo, Microsoft).
            continue
        if not _is_method_clause(clause):
            words = [text for kind, text, _ in clause if kind != "comment"]
            if len(words) == 1 and words[0].lower() == "none":
                # RFC 8601 section 2.2: "none" means no method was evaluated.
                continue
            if len(words) == 1 and _DOT_ATOM.fullmatch(words[0]) and "." in words[0]:
                # Microsoft 365 writes the recipient's domain between clauses.
                parsed.setdefault("embedded_ids", []).append(words[0].lower())
                continue
            parsed["errors"].append(f"clause {_clause_text(clause)!r} is not method=result; ignored")
            continue

        entry, leftovers = _parse_resinfo(clause)
        if leftovers:
            entry = _reparse(_clause_text(clause), entry, leftovers, parsed["errors"])
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
    if tokens and tokens[0][_KIND] == "word" and not (len(tokens) > 1 and tokens[1][_KIND] == "="):
        parsed["result"] = tokens[0][_TEXT].lower()
        index = 1
    if index < len(tokens) and tokens[index][_KIND] == "comment":
        parsed["comment"] = tokens[index][_TEXT]
        index += 1

    for clause in _split_clauses(tokens[index:]):
        words = _words(clause)
        position = 0
        while position < len(words):
            if position + 1 < len(words) and words[position][_KIND] == "word" and words[position + 1][_KIND] == "=":
                key = words[position][_TEXT].lower()
                pair_value, position = _read_value(words, position + 2)
                parsed["pairs"].setdefault(key, pair_value)
                continue
            parsed["errors"].append(f"Received-SPF text {words[position][_TEXT]!r} is not key=value; ignored")
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
    by_name = fields_by_name(headers)
    fields = [header for name in FIELD_NAMES for header in by_name.get(name, ())]
    fields.sort(key=attrgetter("position"))

    collected = []
    for header in fields:
        raw = header.unfolded
        parsed = parse_value(raw, arc=header.lowered_name == "arc-authentication-results")
        entry = {
            "field": header.name,
            "position": header.position,
            "raw": raw,
            "authserv_id": parsed["authserv_id"],
            "results": parsed["results"],
            "errors": parsed["errors"],
        }
        for optional in ("version", "instance", "authserv_id_comment", "embedded_ids"):
            if optional in parsed:
                entry[optional] = parsed[optional]
        if entry["errors"]:
            log.debug("%s at position %d: %s", header.name, header.position, "; ".join(entry["errors"]))
        collected.append(entry)
    return collected
