"""Signing helpers for the verify tests, and checks that what they sign verifies with bare dkimpy.

Keys are generated per test session: RSA with cryptography, Ed25519 with PyNaCl. A key
record is written as zone-file text, so the same key serves the zone-file backend and Knot.
"""

import base64
import secrets
import time
from dataclasses import dataclass

import dkim
import nacl.encoding
import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SIGNED_FIELDS = [b"from", b"to", b"subject", b"date", b"message-id"]


@dataclass
class Key:
    """A signing key and the p= value of its DNS record."""

    kind: str
    private: bytes
    public: str

    def record(self) -> str:
        """Return the TXT record data in zone-file syntax, split into 250-character strings."""
        text = f"v=DKIM1; k={self.kind}; p={self.public}"
        return " ".join(f'"{text[start:start + 250]}"' for start in range(0, len(text), 250))


def rsa_key(bits: int = 2048) -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _rsa(private)


def _rsa(private) -> Key:
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return Key("rsa", pem, base64.b64encode(der).decode("ascii"))


def _probable_prime(bits: int) -> int:
    """Return a random prime of `bits` bits (Miller-Rabin, 40 rounds)."""
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | 1
        if all(candidate % small for small in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31)) and _miller_rabin(candidate):
            return candidate


def _miller_rabin(number: int, rounds: int = 40) -> bool:
    exponent, shifts = number - 1, 0
    while exponent % 2 == 0:
        exponent //= 2
        shifts += 1
    for _ in range(rounds):
        witness = secrets.randbelow(number - 3) + 2
        value = pow(witness, exponent, number)
        if value in (1, number - 1):
            continue
        for _ in range(shifts - 1):
            value = pow(value, 2, number)
            if value == number - 1:
                break
        else:
            return False
    return True


def short_rsa_key(bits: int = 512) -> Key:
    """Return an RSA key under 1024 bits, which cryptography no longer generates itself."""
    exponent = 65537
    while True:
        p, q = _probable_prime(bits // 2), _probable_prime(bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and phi % exponent and (p * q).bit_length() == bits:
            break
    d = pow(exponent, -1, phi)
    numbers = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(exponent, p * q))
    return _rsa(numbers.private_key())


def ed25519_key() -> Key:
    signing = nacl.signing.SigningKey.generate()
    private = signing.encode(encoder=nacl.encoding.Base64Encoder)
    public = signing.verify_key.encode(encoder=nacl.encoding.Base64Encoder).decode("ascii")
    return Key("ed25519", private, public)


def message(sender: str = "news@shop.example.org", subject: str = "Your December statement is ready", body: bytes = b"Hello,\r\n\r\nYour statement is attached.\r\n", extra: bytes = b"", date: str = "Fri, 04 Dec 2026 10:00:00 +0000") -> bytes:
    return (
        f"From: Shop News <{sender}>\r\n"
        "To: Lee Park <lee@example.net>\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: <{secrets.token_hex(8)}@{sender.rpartition('@')[2]}>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
    ).encode("ascii") + extra + b"\r\n" + body


def sign(data: bytes, key: Key, selector: str, domain: str, *, canonicalize=(b"relaxed", b"relaxed"), algorithm: bytes | None = None, length: bool = False, fields=SIGNED_FIELDS) -> bytes:
    """Return `data` with a DKIM-Signature from dkimpy prepended."""
    algorithm = algorithm or (b"ed25519-sha256" if key.kind == "ed25519" else b"rsa-sha256")
    header = dkim.sign(data, selector.encode(), domain.encode(), key.private, canonicalize=canonicalize, signature_algorithm=algorithm, include_headers=fields, length=length)
    return header + data


def sign_with_times(data: bytes, key: Key, selector: str, domain: str, *, signed_at: int, expires: int | None = None) -> bytes:
    """Sign with chosen t= and x= tags, which dkimpy's `sign` does not take.

    Builds the tag list as DKIM.sign does (dkimpy 1.1.8) and lets DKIM.gen_header compute b=.
    """
    signer = dkim.DKIM(data)
    policy = dkim.CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
    hasher = dkim.HASH_ALGORITHMS[b"rsa-sha256"]()
    hasher.update(policy.canonicalize_body(signer.body))
    fields = [
        (b"v", b"1"), (b"a", b"rsa-sha256"), (b"c", b"relaxed/relaxed"), (b"d", domain.encode()),
        (b"i", b"@" + domain.encode()), (b"q", b"dns/txt"), (b"s", selector.encode()),
        (b"t", str(signed_at).encode()),
    ]
    if expires is not None:
        fields.append((b"x", str(expires).encode()))
    fields += [(b"h", b" : ".join(SIGNED_FIELDS)), (b"bh", base64.b64encode(hasher.digest())), (b"b", b"0" * 60)]
    private = dkim.parse_pem_private_key(key.private)
    signer.hasher = dkim.HASH_ALGORITHMS[b"rsa-sha256"]
    signer.signature_algorithm = b"rsa-sha256"
    return b"DKIM-Signature: " + signer.gen_header(fields, SIGNED_FIELDS, policy, b"DKIM-Signature", private) + data


def zone_text(origin: str, records: list[tuple[str, str, str]]) -> str:
    """Return a zone file for `origin` with an SOA, an NS and the given (owner, type, data) records."""
    lines = [f"$ORIGIN {origin}.", "$TTL 300", f"@ SOA ns1.{origin}. hostmaster.{origin}. 1 3600 600 604800 300", f"@ NS ns1.{origin}.", "ns1 A 127.0.0.1"]
    lines += [f"{owner} {rdtype} {data}" for owner, rdtype, data in records]
    return "\n".join(lines) + "\n"


def key_lookup(records: dict[str, Key]):
    """Return a dkimpy dnsfunc that looks keys up in {name: Key}, for the bare-dkimpy checks below."""
    def lookup(name, timeout=5):
        key = records.get(name.decode().rstrip(".")) if isinstance(name, bytes) else records.get(name.rstrip("."))
        return f"v=DKIM1; k={key.kind}; p={key.public}".encode() if key else None
    return lookup


def test_rsa_signature_verifies_bare():
    key = rsa_key(1024)
    signed = sign(message(), key, "s1", "shop.example.org")
    assert dkim.verify(signed, dnsfunc=key_lookup({"s1._domainkey.shop.example.org": key}))


def test_ed25519_signature_verifies_bare():
    key = ed25519_key()
    signed = sign(message(), key, "ed", "shop.example.org")
    assert dkim.verify(signed, dnsfunc=key_lookup({"ed._domainkey.shop.example.org": key}))


def test_timed_signature_verifies_bare():
    key = rsa_key(1024)
    now = int(time.time())
    signed = sign_with_times(message(), key, "s1", "shop.example.org", signed_at=now - 60, expires=now + 3600)
    assert dkim.verify(signed, dnsfunc=key_lookup({"s1._domainkey.shop.example.org": key}))


def test_short_key_has_512_bits():
    key = short_rsa_key()
    der = base64.b64decode(key.public)
    assert serialization.load_der_public_key(der).key_size == 512


# --- a test world: keys, zones, Knot and the two resolver backends ---------------------

import pytest  # noqa: E402

from diag.dns.live import LiveResolver  # noqa: E402
from diag.dns.zonefile import ZoneResolver  # noqa: E402
from tests.fixtures.knot import KNOTD, KnotServer  # noqa: E402

SHOP = "shop.example.org"
SES_SELECTOR = "224i4yxa5dv7c2xz3womw6peuasteono"
EASY_DKIM_TOKEN = "k3vzq7x2m4n6p8r0t2v4x6z8b1d3f5h7"
SHOP_IP = "192.0.2.25"
SES_IP = "54.240.8.10"
LIST_IP = "198.51.100.30"


class World:
    """Keys and zone files for the verify tests, and resolvers over them."""

    def __init__(self, directory):
        self.directory = directory
        self.keys = {
            "s2048": rsa_key(2048), "s1024": rsa_key(1024), "ed": ed25519_key(), "short": short_rsa_key(),
            "ses": rsa_key(1024), "token": rsa_key(1024), "list": rsa_key(1024), "relay": rsa_key(1024),
        }
        keys = self.keys
        zones = {
            SHOP: [
                ("@", "TXT", f'"v=spf1 ip4:{SHOP_IP} include:amazonses.com -all"'),
                ("_dmarc", "TXT", '"v=DMARC1; p=reject"'),
                ("s2048._domainkey", "TXT", keys["s2048"].record()),
                ("s1024._domainkey", "TXT", keys["s1024"].record()),
                ("ed._domainkey", "TXT", keys["ed"].record()),
                ("short._domainkey", "TXT", keys["short"].record()),
                ("revoked._domainkey", "TXT", '"v=DKIM1; k=rsa; p="'),
                (f"{EASY_DKIM_TOKEN}._domainkey", "CNAME", f"{EASY_DKIM_TOKEN}.dkim.amazonses.com."),
                ("bounce", "TXT", '"v=spf1 include:amazonses.com -all"'),
                ("mail", "TXT", f'"v=spf1 ip4:{SHOP_IP} -all"'),
                ("_dmarc.mail", "TXT", '"v=DMARC1; p=quarantine; adkim=s; aspf=s"'),
            ],
            "amazonses.com": [
                ("@", "TXT", '"v=spf1 ip4:54.240.0.0/18 -all"'),
                (f"{SES_SELECTOR}._domainkey", "TXT", keys["ses"].record()),
            ],
            "dkim.amazonses.com": [(EASY_DKIM_TOKEN, "TXT", keys["token"].record())],
            "list.example.com": [
                ("@", "TXT", f'"v=spf1 ip4:{LIST_IP} -all"'),
                ("_dmarc", "TXT", '"v=DMARC1; p=none"'),
                ("arc._domainkey", "TXT", keys["list"].record()),
            ],
            "relay.example.com": [("arc._domainkey", "TXT", keys["relay"].record())],
        }
        self.paths = []
        for origin, records in zones.items():
            path = directory / f"{origin}.zone"
            path.write_text(zone_text(origin, records))
            self.paths.append(str(path))

    def zone_resolver(self):
        return ZoneResolver(self.paths)


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    directory = tmp_path_factory.mktemp("verify-zones")
    return World(directory)


@pytest.fixture(scope="session")
def world_knot(world, tmp_path_factory):
    import os

    if not os.access(KNOTD, os.X_OK):
        pytest.skip(f"{KNOTD} is not installed; install the Debian package knot")
    server = KnotServer(tmp_path_factory.mktemp("verify-knot"), zones_dir=world.directory)
    server.start()
    yield server
    server.close()


@pytest.fixture(params=["zonefile", pytest.param("knot", marks=pytest.mark.dns)])
def resolver(request, world):
    """The same zones through the zone-file backend and through Knot on loopback."""
    if request.param == "zonefile":
        return world.zone_resolver()
    server = request.getfixturevalue("world_knot")
    return LiveResolver([server.address], timeout=1.0)


def delivered(signed: bytes, results: str, *, ip: str = SHOP_IP, helo: str = f"mail.{SHOP}", receiver: str = "mx.example.net") -> bytes:
    """Prepend the receiver's Authentication-Results and Received fields to `signed`."""
    return (
        f"Authentication-Results: {receiver};\r\n {results}\r\n"
        f"Received: from {helo} ({helo} [{ip}])\r\n by {receiver} (Postfix) with ESMTPS id 4QZk9r1xTfz9vBq\r\n"
        " for <lee@example.net>; Fri, 04 Dec 2026 10:00:05 +0000\r\n"
    ).encode("ascii") + signed
