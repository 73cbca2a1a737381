"""Verify every DKIM-Signature of a full message with dkimpy and explain why each one fails.

dkimpy (1.1.8) returns True or False and reports causes through exceptions and log lines.
This module classifies instead: the key lookup goes through `KeyStore` first (so a missing,
revoked, invalid or temporarily unavailable key is known before dkimpy runs), the t= and x=
tags are judged here against the current time and the receiver's time, and only the
cryptographic check is left to dkimpy's `DKIM.verify_sig`, whose ValidationError "body hash
mismatch" tells the body apart from the header signature.

Results use RFC 8601 words. `reason` is one of the codes in REASONS.
"""

import email.utils
import logging
import re
import time

from diag.verify import bodycheck
from diag.verify.lookup import KeyStore, dkimpy_logger

log = logging.getLogger(__name__)
# dkimpy logs every failure at error level, and those lines repeat the facts.
_DKIMPY_LOG = dkimpy_logger(__name__ + ".dkimpy")

VERIFIED = "verified"
BODY_HASH_MISMATCH = "body-hash-mismatch"
HEADER_SIGNATURE_MISMATCH = "header-signature-mismatch"
KEY_NOT_FOUND = "key-not-found"
DNS_TEMPERROR = "dns-temperror"
KEY_REVOKED = "key-revoked"
KEY_INVALID = "key-invalid"
KEY_TOO_SHORT = "key-too-short"
EXPIRED = "expired"
FUTURE_TIMESTAMP = "future-timestamp"
RSA_SHA1 = "rsa-sha1"
SIGNATURE_INVALID = "signature-invalid"
REASONS = (
    VERIFIED, BODY_HASH_MISMATCH, HEADER_SIGNATURE_MISMATCH, KEY_NOT_FOUND, DNS_TEMPERROR, KEY_REVOKED,
    KEY_INVALID, KEY_TOO_SHORT, EXPIRED, FUTURE_TIMESTAMP, RSA_SHA1, SIGNATURE_INVALID,
)

# RFC 8301 section 3.2: verifiers must not accept RSA keys under 1024 bits; 2048 is recommended.
MIN_RSA_BITS = 1024
RECOMMENDED_RSA_BITS = 2048
# The same allowance for sender clocks that dkimpy applies to t= (10 hours).
CLOCK_SLOP_SECONDS = 36000
KEY_TYPE_OF = {"rsa-sha256": "rsa", "rsa-sha1": "rsa", "ed25519-sha256": "ed25519"}
# RFC 6376 section 3.5 lists these tags as required.
REQUIRED_TAGS = ("v", "a", "b", "bh", "d", "h", "s")


def _text_tags(raw_tags: dict) -> dict:
    tags = {key.decode("ascii", "replace").lower(): value.decode("utf-8", "replace") for key, value in raw_tags.items()}
    for name in ("l", "t", "x"):
        if name in tags:
            value = tags[name].strip()
            tags[name] = int(value) if value.isdigit() else value
    return tags


def _timestamp_text(seconds: int | float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


class SignatureVerifier:
    """Verify the DKIM-Signature fields of one message with keys from a shared KeyStore."""

    def __init__(self, message: bytes, keys: KeyStore, *, received_at: float | None = None, now: float | None = None):
        import dkim  # dkimpy; kept off the `analyze --offline` import path

        self.dkim = dkim
        self.message = message
        self.keys = keys
        self.received_at = received_at
        self.now = time.time() if now is None else now
        self.verifier = dkim.DKIM(message, logger=_DKIMPY_LOG, minkey=MIN_RSA_BITS)
        self.signature_headers = [(name, value) for name, value in self.verifier.headers if name.lower() == b"dkim-signature"]

    def verify_all(self) -> list[dict]:
        """Return one result per DKIM-Signature, top first (index 0 is the topmost)."""
        return [self.verify_one(index) for index in range(len(self.signature_headers))]

    def verify_one(self, index: int) -> dict:
        from dkim.util import InvalidTagValueList, parse_tag_value

        header = self.signature_headers[index]
        entry: dict = {"index": index, "flags": []}
        try:
            raw_tags = parse_tag_value(header[1])
        except InvalidTagValueList as error:
            return self._finish(entry, "permerror", SIGNATURE_INVALID, f"the tag list does not parse: {error}")
        tags = _text_tags(raw_tags)
        for name in ("d", "s", "a", "c", "l", "t", "x", "i"):
            if name in tags:
                entry[name] = tags[name].lower() if name == "d" else tags[name]
        entry.setdefault("c", "simple/simple")

        problem = self._tag_problem(raw_tags, tags)
        if problem:
            return self._finish(entry, "permerror", SIGNATURE_INVALID, problem)
        self._flag_tags(entry, tags)

        key_name = f"{tags['s']}._domainkey.{tags['d']}".lower()
        entry["key_name"] = key_name
        self._add_length_facts(entry, tags)
        failure = self._key_problem(entry, key_name, tags)
        if failure is not None:
            # The body hash (bh=) needs no key, so a body change is still proven when the
            # key is missing, revoked or its lookup timed out.
            entry["body_intact"] = bodycheck.body_intact(self.verifier.body, tags)
            if entry["body_intact"] is False:
                entry["body_change"] = bodycheck.diagnose_body(self.message, self.verifier.body, tags)
            return self._finish(entry, *failure)

        return self._check_signature(entry, raw_tags, tags, header)

    # --- steps -------------------------------------------------------------------------

    def _tag_problem(self, raw_tags: dict, tags: dict) -> str | None:
        """Return why the signature is malformed (RFC 6376 section 6.1.1), or None."""
        missing = [name for name in REQUIRED_TAGS if name not in tags]
        if missing:
            return f"required tag{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing"
        if tags["a"] not in KEY_TYPE_OF:
            return f"a={tags['a']} is not an algorithm DKIM defines (rsa-sha256, ed25519-sha256)"
        for name in ("l", "t", "x"):
            if name in tags and not isinstance(tags[name], int):
                return f"{name}={tags[name]} is not a decimal integer"
        if "from" not in [field.strip().lower() for field in tags["h"].split(":")]:
            # RFC 6376 section 5.4: the From field MUST be signed.
            return "h= does not list From, which must be signed"

        # dkimpy's field checks, without t= and x=, which are judged in _flag_tags against
        # both the current time and the receiver's time.
        checked = {key: value for key, value in raw_tags.items() if key not in (b"t", b"x")}
        try:
            self.dkim.validate_signature_fields(checked)
        except self.dkim.ValidationError as error:
            return str(error)
        return None

    def _flag_tags(self, entry: dict, tags: dict) -> None:
        if tags["a"] == "rsa-sha1":
            entry["flags"].append(RSA_SHA1)
        if "l" in tags:
            entry["flags"].append("l-tag")
            entry["length_limited"] = True
        expires = tags.get("x")
        if expires is not None:
            entry["expires_at"] = _timestamp_text(expires)
            entry["expired"] = expires < self.now
            if self.received_at is not None:
                entry["expired_at_receipt"] = expires < self.received_at
            sent_at = self._date_field_time()
            if sent_at is not None:
                # x= before the Date field: the signature was dead before the message left.
                entry["expired_before_date"] = expires < sent_at
                entry["date_field_at"] = _timestamp_text(sent_at)
        signed = tags.get("t")
        if signed is not None:
            entry["signed_at"] = _timestamp_text(signed)
            entry["future"] = signed > self.now + CLOCK_SLOP_SECONDS
            if expires is not None and expires < signed:
                entry["expired"] = True

    def _date_field_time(self) -> float | None:
        """Return the Date field (RFC 5322 section 3.6.1) as a POSIX time, or None when absent or invalid."""
        for name, value in self.verifier.headers:
            if name.lower() != b"date":
                continue
            try:
                return email.utils.parsedate_to_datetime(value.decode("ascii", "replace").strip()).timestamp()
            except (TypeError, ValueError, IndexError):
                log.debug("Date field %r does not parse", value[:80])
                return None
        return None

    def _key_problem(self, entry: dict, key_name: str, tags: dict) -> tuple[str, str, str] | None:
        """Fetch and judge the key record; return (result, reason, detail) when it is unusable."""
        from diag.dnscheck.dkim import parse_key_record

        record = self.keys.record(key_name)
        entry["key_status"] = record.status
        if record.temporary:
            return "temperror", DNS_TEMPERROR, f"the key lookup {key_name} TXT failed temporarily ({record.status}{': ' + record.detail if record.detail else ''}); retry later"
        if record.text is None:
            return "permerror", KEY_NOT_FOUND, f"{key_name} TXT returned {record.status.upper()}: no key is published there"

        parsed = self.keys.parsed(key_name, parse_key_record)
        if parsed.get("bits"):
            entry["key_bits"] = parsed["bits"]
        entry["key_type"] = parsed.get("type")
        if parsed["status"] == "revoked":
            return "permerror", KEY_REVOKED, f"{key_name} publishes an empty p=: the key is revoked (RFC 6376 section 3.6.1)"
        if parsed["status"] != "ok":
            return "permerror", KEY_INVALID, f"{key_name}: {parsed.get('error')}"
        if parsed.get("type") != KEY_TYPE_OF[tags["a"]]:
            return "permerror", KEY_INVALID, f"{key_name} holds a {parsed.get('type')} key but the signature uses a={tags['a']}"
        return None

    def _check_signature(self, entry: dict, raw_tags: dict, tags: dict, header: tuple) -> dict:
        include_headers = [name.lower() for name in re.split(rb"\s*:\s*", raw_tags[b"h"])]
        try:
            valid = self.verify_with_cached_key(self.verifier, entry["key_name"], raw_tags, include_headers, header)
        except self.dkim.ValidationError as error:
            if "body hash mismatch" not in str(error):
                return self._finish(entry, "permerror", SIGNATURE_INVALID, str(error))
            change = bodycheck.diagnose_body(self.message, self.verifier.body, tags)
            entry["body_change"] = change
            return self._finish(entry, "fail", BODY_HASH_MISMATCH, f"body hash mismatch: {change['detail']}")
        except self.dkim.KeyFormatError as error:
            if "too small" in str(error):
                # dkimpy raises this only after the signature verified (DKIM.verify_sig_process).
                return self._finish(entry, "policy", KEY_TOO_SHORT, f"the signature verifies, but the key has {entry.get('key_bits')} bits and RFC 8301 section 3.2 rejects keys under {MIN_RSA_BITS}")
            return self._finish(entry, "permerror", KEY_INVALID, str(error))
        except self.dkim.DKIMException as error:
            return self._finish(entry, "permerror", SIGNATURE_INVALID, str(error))

        if not valid:
            from diag.verify.headercheck import diagnose_headers

            entry["header_change"] = diagnose_headers(self, raw_tags, header)
            return self._finish(entry, "fail", HEADER_SIGNATURE_MISMATCH, f"the body is intact but the signed header fields changed: {entry['header_change']['detail']}")

        return self._judge_valid(entry, tags)

    def verify_with_cached_key(self, verifier, key_name: str, raw_tags: dict, include_headers: list, header: tuple) -> bool:
        """Run dkimpy's cryptographic check with a key parsed once per run.

        `DKIM.verify_sig` (dkimpy 1.1.8) parses the key record on every call and then runs
        `verify_sig_process`. Here the key parsed by `dkim.evaluate_pk` is kept in the
        KeyStore, and this method sets the attributes that verify_sig would set.
        """
        record = self.keys.record(key_name)
        verifier.pk, verifier.keysize, verifier.ktag, verifier.seqtlsrpt = self.keys.parsed(
            key_name + "#dkimpy", lambda _text: self.dkim.evaluate_pk(key_name.encode("ascii"), record.text)
        )
        return verifier.verify_sig_process(dict(raw_tags), include_headers, header, self.keys.dnsfunc)

    def _judge_valid(self, entry: dict, tags: dict) -> dict:
        """Apply the time and algorithm rules to a cryptographically valid signature."""
        if entry.get("expired"):
            expiry = f"x= ({_timestamp_text(tags['x'])}) has passed"
            if entry.get("expired_before_date"):
                expiry += ", and it was already past at the time in the Date field"
            elif self.received_at:
                expiry += f"; the receiver checked the message {'before' if entry.get('expired_at_receipt') is False else 'after'} that time"
            return self._finish(entry, "fail", EXPIRED, f"the signature verifies, but {expiry}")
        if entry.get("future"):
            return self._finish(entry, "fail", FUTURE_TIMESTAMP, f"t= ({entry['signed_at']}) is in the future: the signer's clock is wrong")
        if tags["a"] == "rsa-sha1":
            # RFC 8301 section 3.1: verifiers must not consider rsa-sha1 signatures valid.
            return self._finish(entry, "policy", RSA_SHA1, "the signature verifies, but rsa-sha1 is obsolete and receivers must not accept it (RFC 8301 section 3.1)")
        return self._finish(entry, "pass", VERIFIED, "the signature verifies")

    def _add_length_facts(self, entry: dict, tags: dict) -> None:
        length = tags.get("l")
        if length is None:
            return
        canonical = bodycheck.canonical_body(self.verifier.body, tags.get("c", "simple/simple").encode("ascii"))
        entry["body_length"] = len(canonical)
        appended = bodycheck.appended_content(canonical, length)
        if appended:
            entry.update(appended)

    def _finish(self, entry: dict, result: str, reason: str, detail: str) -> dict:
        entry["result"] = result
        entry["reason"] = reason
        entry["detail"] = detail
        bits = entry.get("key_bits")
        if entry.get("key_type") == "rsa" and bits and MIN_RSA_BITS <= bits < RECOMMENDED_RSA_BITS:
            entry["flags"].append("key-weak")
        log.debug("DKIM-Signature %d d=%s s=%s: %s (%s)", entry["index"], entry.get("d"), entry.get("s"), result, reason)
        return entry
