"""DKIM public key records (RFC 6376 section 3.6.1, RFC 8463): key type and size."""

import base64
import binascii
import logging

from diag.dns.resolver import OK
from diag.dnscheck.evidence import evidence

log = logging.getLogger(__name__)

# RFC 8301 section 3.2: signers MUST use RSA keys of at least 1024 bits and SHOULD use 2048;
# SES Easy DKIM offers 2048-bit keys (SES Developer Guide, "Easy DKIM").
RECOMMENDED_RSA_BITS = 2048


def parse_key_record(text: str) -> dict:
    """Return {type, bits, status, error} for one DKIM key record.

    `status` is `ok`, `revoked` (empty p=, RFC 6376 section 3.6.1) or `invalid`.
    """
    from dkim.util import InvalidTagValueList, parse_tag_value  # dkimpy

    try:
        tags = {key.decode("ascii").lower(): value.decode("ascii") for key, value in parse_tag_value(text.encode("utf-8")).items()}
    except (InvalidTagValueList, UnicodeError) as error:
        return {"status": "invalid", "error": f"not a tag=value list: {error}"}

    version = tags.get("v")
    if version is not None and version != "DKIM1":
        return {"status": "invalid", "error": f"v={version}; a DKIM key record has v=DKIM1 or no v= tag"}
    key_type = tags.get("k", "rsa").lower()
    if "p" not in tags:
        return {"status": "invalid", "type": key_type, "error": "the p= tag (public key) is missing"}
    encoded = "".join(tags["p"].split())
    if not encoded:
        return {"status": "revoked", "type": key_type, "error": "p= is empty: the key is revoked"}

    try:
        key_bytes = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return {"status": "invalid", "type": key_type, "error": "p= is not valid base64"}
    return _key_size(key_type, key_bytes)


def _key_size(key_type: str, key_bytes: bytes) -> dict:
    if key_type == "ed25519":
        # RFC 8463 section 4.2: p= is the raw 32-byte Ed25519 public key.
        if len(key_bytes) != 32:
            return {"status": "invalid", "type": key_type, "error": f"an Ed25519 key has 32 bytes, this one {len(key_bytes)}"}
        return {"status": "ok", "type": key_type, "bits": 256}
    if key_type != "rsa":
        return {"status": "invalid", "type": key_type, "error": f"k={key_type} is not a key type RFC 6376 or RFC 8463 defines"}

    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        # cryptography reads both SubjectPublicKeyInfo (RFC 6376 section 3.6.1) and the bare
        # PKCS#1 RSAPublicKey that some panels publish.
        key = load_der_public_key(key_bytes)
    except ValueError:
        return {"status": "invalid", "type": key_type, "error": "p= is not a DER-encoded RSA public key"}
    if not isinstance(key, rsa.RSAPublicKey):
        return {"status": "invalid", "type": key_type, "error": "k=rsa but p= holds another kind of key"}
    return {"status": "ok", "type": key_type, "bits": key.key_size}


def check_key(resolver, name: str, source: str) -> dict:
    """Look up the key TXT record at `name` (CNAMEs are followed by the resolver)."""
    answer = resolver.query(name, "TXT")
    fact = {"name": name, "source": source, "query": evidence(answer)}
    if answer.temporary:
        fact["status"] = "temperror"
        return fact
    records = [record for record in answer.records if "p=" in record] if answer.status == OK else []
    if not records:
        fact["status"] = "none"
        return fact
    if len(records) > 1:
        # RFC 6376 section 3.6.2.2: several key records at one name give unpredictable results.
        fact["multiple"] = True
    fact.update(parse_key_record(records[0]))
    fact["record"] = records[0]
    if fact.get("type") == "rsa" and fact.get("bits"):
        fact["weak"] = fact["bits"] < RECOMMENDED_RSA_BITS
    return fact
