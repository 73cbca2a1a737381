"""Say what happened to a body after it was signed: content appended, or the body re-encoded.

dkimpy reports only "body hash mismatch". These checks recompute the body hash of RFC 6376
section 3.7 with dkimpy's own canonicalisation (dkim.canonicalization, 1.1.8) on candidate
original bodies, so a match proves what changed instead of guessing it.
"""

import email
import email.policy
import logging

log = logging.getLogger(__name__)

# Bound the prefix search: one hash copy per line, so the cost grows with the line count.
MAX_PREFIX_LINES = 20000
PREVIEW_CHARACTERS = 200


def canonical_body(body: bytes, c_value: bytes) -> bytes:
    """Return the body canonicalised per the c= tag (RFC 6376 section 3.4.3 and 3.4.4)."""
    from dkim.canonicalization import CanonicalizationPolicy  # dkimpy

    return CanonicalizationPolicy.from_c_value(c_value).canonicalize_body(body)


def body_hash(canonical: bytes, algorithm: bytes, length: int | None = None) -> bytes:
    """Return the digest of the canonical body, cut to the l= tag when there is one."""
    import dkim  # dkimpy

    hasher = dkim.HASH_ALGORITHMS[algorithm]()
    hasher.update(canonical if length is None else canonical[:length])
    return hasher.digest()


def signed_prefix_length(canonical: bytes, algorithm: bytes, expected: bytes) -> int | None:
    """Return the length of the leading part of `canonical` whose hash is `expected`, if any.

    Canonicalisation works line by line and only drops trailing empty lines, so the
    canonical form of a body that later had text appended is a prefix of the canonical
    form of the longer body, ending after a non-empty line.
    """
    import dkim  # dkimpy

    new_hasher = dkim.HASH_ALGORITHMS[algorithm]
    # An empty body canonicalises to CRLF (simple) or to nothing (relaxed).
    for empty in (b"", b"\r\n"):
        if new_hasher(empty).digest() == expected and len(canonical) > len(empty):
            return len(empty)

    hasher = new_hasher()
    position = 0
    lines = canonical.split(b"\r\n")[:-1]
    for line in lines[:MAX_PREFIX_LINES]:
        hasher.update(line + b"\r\n")
        position += len(line) + 2
        if line and position < len(canonical) and hasher.copy().digest() == expected:
            return position
    return None


def _preview(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace").strip()
    return text if len(text) <= PREVIEW_CHARACTERS else text[:PREVIEW_CHARACTERS] + "..."


def appended_content(canonical: bytes, length: int) -> dict | None:
    """Describe the canonical body bytes beyond the l= count, which the signature does not cover."""
    extra = canonical[length:]
    if not extra.strip():
        return None
    return {"appended_bytes": len(extra), "appended_preview": _preview(extra)}


def _decoded_single_part(message: bytes) -> tuple[str, bytes] | None:
    """Return (transfer encoding, decoded body) of a single-part base64 or quoted-printable message."""
    parsed = email.message_from_bytes(message, policy=email.policy.compat32)
    if parsed.is_multipart():
        return None
    encoding = (parsed.get("Content-Transfer-Encoding") or "").strip().lower()
    if encoding not in ("base64", "quoted-printable"):
        return None
    decoded = parsed.get_payload(decode=True)
    if decoded is None:
        return None
    # A text body travels with CRLF line ends (RFC 5322 section 2.3).
    return encoding, decoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _is_7bit(data: bytes) -> bool:
    """Tell whether `data` is 7bit data as RFC 2045 section 2.7 defines it: ASCII without NUL, lines of at most 998 octets."""
    return all(byte < 128 and byte != 0 for byte in data) and all(len(line) <= 998 for line in data.split(b"\r\n"))


def transfer_encoding(message: bytes) -> str:
    """Return the top-level Content-Transfer-Encoding in lower case; `7bit` when absent (RFC 2045 section 6.1)."""
    parsed = email.message_from_bytes(message, policy=email.policy.compat32)
    return (parsed.get("Content-Transfer-Encoding") or "7bit").strip().lower()


def diagnose_body(message: bytes, body: bytes, tags: dict) -> dict:
    """Return {kind, detail, transfer_encoding, ...} for a body hash mismatch.

    kind is `appended` (the signed body is intact, text was added after it), `reencoded`
    (the decoded body matches: a hop changed the Content-Transfer-Encoding) or `changed`.
    `transfer_encoding` is the top-level Content-Transfer-Encoding of this copy. For
    `reencoded`, `signed_7bit` is true when the signed body was already 7bit data, in which
    case signing 7-bit content would not have prevented the conversion.
    """
    change = _diagnose(message, body, tags)
    change["transfer_encoding"] = transfer_encoding(message)
    return change


def _diagnose(message: bytes, body: bytes, tags: dict) -> dict:
    import base64

    algorithm = tags["a"].encode("ascii")
    c_value = tags.get("c", "simple/simple").encode("ascii")
    expected = base64.b64decode("".join(tags["bh"].split()))
    length = tags.get("l")
    canonical = canonical_body(body, c_value)

    # Appended text: with l= the signed part is fixed, so a mismatch there means the first
    # l bytes changed. Without l=, search for the signed body as a prefix.
    if length is None:
        prefix = signed_prefix_length(canonical, algorithm, expected)
        if prefix is not None:
            extra = canonical[prefix:]
            return {
                "kind": "appended",
                "appended_bytes": len(extra),
                "appended_preview": _preview(extra),
                "detail": f"the signed body is intact and {len(extra)} bytes were appended after signing",
            }

    # NOTE: only a single-part body is decoded here. A multipart message whose parts were
    # re-encoded also changed the part headers, which cannot be reconstructed.
    decoded = _decoded_single_part(message)
    if decoded is not None:
        encoding, text = decoded
        if body_hash(canonical_body(text, c_value), algorithm, length) == expected:
            return {
                "kind": "reencoded",
                "encoding": encoding,
                "signed_7bit": _is_7bit(text),
                "detail": f"the decoded body matches the signature, so a hop re-encoded the body to {encoding} after signing",
            }

    return {"kind": "changed", "detail": "the body differs from the signed body; no appended text or re-encoding explains it"}


def body_intact(body: bytes, tags: dict) -> bool | None:
    """Tell whether the body still matches bh=; None when the tags cannot be read."""
    import base64
    import binascii

    try:
        expected = base64.b64decode("".join(tags["bh"].split()))
        canonical = canonical_body(body, tags.get("c", "simple/simple").encode("ascii"))
        return body_hash(canonical, tags["a"].encode("ascii"), tags.get("l")) == expected
    except (KeyError, ValueError, binascii.Error, UnicodeError) as error:
        log.debug("body hash not computed: %s", error)
        return None
