"""Body and list facts: a text/plain part, links whose text shows another domain, the
unsubscribe fields, and whether the message looks like bulk mail."""

import logging
import re
from email.message import Message

from diag.messages.model import Header, ParsedMessage, fields_by_name

log = logging.getLogger(__name__)

# html.parser read link-dense HTML at about 2 MB/s (CPython 3.11 on one AMD EPYC core),
# so this cap bounds one message at about a second.
# NOTE: links after the first 2 MB of HTML are not checked, and `html_truncated` is set.
MAX_HTML_BYTES = 2 * 1024 * 1024

# Precedence is a non-standard field. List servers set it to "list" and bulk senders to
# "bulk" or "junk".
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})

_URI = re.compile(r"<\s*([^<>\s]+)\s*>")

# The header fields this module reads, in lower case.
_FIELDS = ("list-unsubscribe", "list-unsubscribe-post", "precedence", "list-id")


def collect(parsed: ParsedMessage, facts: dict) -> dict:
    """Gather the body facts of `parsed` and the list fields of its header."""
    fields = _first_fields(parsed.headers)
    content = _list_fields(fields)
    content.update(_bulk(fields, facts, content))

    if parsed.body is None or parsed.email is None:
        content["has_body"] = False
        return content

    content["has_body"] = True
    content.update(_body(parsed.email))
    return content


def _first_fields(headers: list[Header]) -> dict[str, Header]:
    """Return the topmost field of each name in _FIELDS that the header has, keyed by its lower-case name."""
    fields = fields_by_name(headers)
    return {name: fields[name][0] for name in _FIELDS if name in fields}


def _list_fields(header_fields: dict[str, Header]) -> dict:
    """Read List-Unsubscribe (RFC 2369) and List-Unsubscribe-Post (RFC 8058)."""
    fields: dict = {}
    unsubscribe = header_fields.get("list-unsubscribe")
    if unsubscribe is not None:
        # Folding whitespace between the URIs carries no meaning (RFC 5322 section 3.2.2).
        value = " ".join(unsubscribe.value.split())
        uris = _URI.findall(value)
        fields["list_unsubscribe"] = value
        fields["list_unsubscribe_uris"] = uris
        fields["list_unsubscribe_https"] = any(uri.lower().startswith("https:") for uri in uris)
        fields["list_unsubscribe_mailto"] = any(uri.lower().startswith("mailto:") for uri in uris)

    post = header_fields.get("list-unsubscribe-post")
    if post is not None:
        fields["list_unsubscribe_post"] = post.unfolded

    # RFC 8058 section 3.1: one-click needs the exact key/value pair and an HTTPS URI.
    fields["one_click_unsubscribe"] = bool(
        fields.get("list_unsubscribe_https")
        and post is not None
        and post.unfolded.replace(" ", "").lower() == "list-unsubscribe=one-click"
    )
    return fields


def _bulk(header_fields: dict[str, Header], facts: dict, list_fields: dict) -> dict:
    """Decide whether the message is bulk mail, and list every reason found.

    Any one of these counts:
    - Precedence bulk, list or junk;
    - a List-Id (RFC 2919) or a List-Unsubscribe (RFC 2369);
    - a Microsoft bulk complaint level of 1 or more (Microsoft Learn, "Bulk complaint
      level (BCL)": 0 means the message is not from a bulk sender).

    A Feedback-ID does not count: Amazon SES adds one to every message, invoices and
    password resets included, and Gmail's bulk-sender rules exempt such transactional mail
    from one-click unsubscribe.
    """
    reasons = []

    precedence = header_fields.get("precedence")
    if precedence is not None and precedence.unfolded.lower() in _BULK_PRECEDENCE:
        reasons.append(f"Precedence: {precedence.unfolded.lower()}")

    if "list-id" in header_fields:
        reasons.append("List-Id")
    if "list_unsubscribe" in list_fields:
        reasons.append("List-Unsubscribe")

    bcl = (facts.get("microsoft") or {}).get("bcl")
    if isinstance(bcl, int) and bcl >= 1:
        reasons.append(f"BCL {bcl}")

    return {"bulk": bool(reasons), "bulk_reasons": reasons}


def _body(message: Message) -> dict:
    """Walk the MIME tree once: note a text/plain part and check the links of HTML parts."""
    has_text_plain = False
    has_html = False
    html_budget = MAX_HTML_BYTES
    truncated = False
    mismatched: list[dict] = []

    for part in _body_parts(message):
        content_type = part.get_content_type()
        if content_type == "text/plain":
            has_text_plain = True
        elif content_type == "text/html":
            has_html = True
            if html_budget <= 0:
                truncated = True
                continue

            html, part_truncated = _decoded_text(part, html_budget)
            truncated = truncated or part_truncated
            html_budget -= len(html)
            mismatched.extend(_mismatched_links(html))

    result = {
        "has_text_plain": has_text_plain,
        "has_html": has_html,
        "mismatched_links": mismatched,
    }
    if truncated:
        result["html_truncated"] = True
    return result


def _mismatched_links(html: str) -> list[dict]:
    # html.parser starts a tag only at "<" followed by a letter, so an <a> element needs
    # the text "<a" in either case. HTML without it has no links, and is not parsed.
    if "<a" not in html and "<A" not in html:
        return []

    # Imported on first use: html.parser and the links module cost a few milliseconds of
    # start-up, and header-only input has no HTML part.
    from diag.facts.links import find_mismatched_links

    return find_mismatched_links(html)


def _body_parts(message: Message):
    """Yield the leaf parts that form the message's own body.

    Attachments and the parts of attached messages (message/rfc822) are skipped, because
    a text/plain attachment is no alternative to the HTML body. A message with no
    Content-Type is text/plain (RFC 2045 section 5.2).
    """
    stack = [message]
    while stack:
        part = stack.pop()
        if part.is_multipart():
            if part.get_content_maintype() == "message":
                continue
            stack.extend(reversed(part.get_payload()))
            continue
        if part.get_content_disposition() == "attachment":
            continue
        yield part


def _decoded_text(part: Message, limit: int) -> tuple[str, bool]:
    """Decode a part's transfer encoding and charset once, keeping at most `limit` bytes."""
    payload = part.get_payload(decode=True) or b""
    truncated = len(payload) > limit
    if truncated:
        log.info("HTML part of %d bytes read up to %d bytes", len(payload), limit)
        payload = payload[:limit]

    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace"), truncated
    except LookupError:
        log.debug("unknown charset %r in HTML part, decoded as UTF-8", charset)
        return payload.decode("utf-8", errors="replace"), truncated
