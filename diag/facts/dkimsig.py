"""Read the tags of every DKIM-Signature header field (RFC 6376 section 3.5), without
verifying anything.

dkimpy's `dkim.util.parse_tag_value` would do the tag-list parsing, but importing `dkim`
pulls in its crypto back ends and is kept off the `analyze --offline` path, so the small
tag-list parser of RFC 6376 section 3.2 lives in `parse_tag_list` here. ARC-Seal and
ARC-Message-Signature use the same syntax (RFC 8617 section 4.1).
"""

import logging
import re

from diag.messages.model import Header, fields_by_name

log = logging.getLogger(__name__)

# RFC 6376 section 3.2: tag-name = ALPHA *ALNUMPUNC, where ALNUMPUNC is a letter, digit or "_".
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# The tags of DKIM-Signature (RFC 6376 section 3.5) and of ARC-Seal and
# ARC-Message-Signature (RFC 8617 sections 4.1.2 and 4.1.3), all valid tag names.
_REGISTERED_TAGS = frozenset(("v", "a", "b", "bh", "c", "d", "h", "i", "l", "q", "s", "t", "x", "z", "cv"))

# Tags whose values are base64 (RFC 6376 section 3.5); folding whitespace inside is removed.
_BASE64_TAGS = ("b", "bh")
_TEXT_TAGS = ("v", "a", "c", "d", "s", "i", "q")
_INTEGER_TAGS = ("l", "t", "x")
# RFC 6376 section 3.5 lists these tags as REQUIRED. Errors name the missing ones in this order.
_REQUIRED_TAGS_ORDER = ("v", "a", "b", "bh", "d", "h", "s")
_REQUIRED_TAGS = frozenset(_REQUIRED_TAGS_ORDER)


def parse_tag_list(value: str) -> tuple[dict[str, str], list[str]]:
    """Split `tag=value; ...` into a dict and a list of syntax errors.

    Whitespace around tag names and values is dropped (RFC 6376 section 3.2 allows FWS
    there). A repeated tag keeps its first value and is reported as an error, because
    section 3.2 forbids duplicate tag names, which makes the signature invalid.
    """
    tags: dict[str, str] = {}
    errors = []
    for spec in value.split(";"):
        name, equals, tag_value = spec.partition("=")
        if not equals:
            # A trailing ";" is allowed; an empty spec elsewhere is harmless.
            if spec.strip():
                errors.append(f"tag-spec {spec.strip()!r} has no '='")
            continue
        name = name.strip()
        # The set lookup spares the regular expression for the tag names in use.
        if name not in _REGISTERED_TAGS and not _TAG_NAME.match(name):
            errors.append(f"tag name {name!r} is not ALPHA *(ALPHA / DIGIT / '_')")
            continue
        if name in tags:
            errors.append(f"tag {name!r} appears more than once (RFC 6376 section 3.2)")
            continue
        # str.split() splits at the characters that the regex \s matches (both use
        # str.isspace), and it is several times faster than re.sub here.
        tags[name] = " ".join(tag_value.split())
    return tags, errors


def describe(tags: dict[str, str]) -> dict:
    """Normalise the tags every consumer reads: d lower-case, h split, b and bh without
    whitespace, l, t and x as integers when they are numbers.

    `tags` comes from parse_tag_list, so the only whitespace in a value is single spaces.
    """
    described: dict = {name: tags[name] for name in _TEXT_TAGS if name in tags}
    if "d" in described:
        # Domain names compare case-insensitively; the facts document stores them lower-case.
        described["d"] = described["d"].strip(".").lower()
    if "h" in tags:
        described["h"] = [field for field in map(str.strip, tags["h"].split(":")) if field]
    for name in _BASE64_TAGS:
        if name in tags:
            described[name] = tags[name].replace(" ", "")
    for name in _INTEGER_TAGS:
        if name in tags:
            text = tags[name].strip()
            described[name] = int(text) if text.isascii() and text.isdigit() else text
    return described


def collect(headers: list[Header]) -> list[dict]:
    """Return every DKIM-Signature, top first, with its tags and syntax errors."""
    signatures = []
    for header in fields_by_name(headers).get("dkim-signature", ()):
        raw = header.unfolded
        tags, errors = parse_tag_list(raw)
        signature = describe(tags)
        if not _REQUIRED_TAGS.issubset(tags):
            errors.extend(f"required tag {name!r} is missing" for name in _REQUIRED_TAGS_ORDER if name not in tags)
        signature["raw"] = raw
        signature["position"] = header.position
        signature["errors"] = errors
        if errors:
            log.debug("DKIM-Signature at position %d: %s", header.position, "; ".join(errors))
        signatures.append(signature)
    return signatures
