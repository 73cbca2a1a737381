"""ARC chains sealed here with dkimpy across two hops (a list and a relay), intact and tampered."""

import dkim

from diag.verify.arc import verify_arc
from diag.verify.lookup import KeyStore
from tests.test_verify_signing import (  # noqa: F401  (world and resolver are fixtures)
    SHOP,
    message,
    resolver,
    sign,
    world,
    world_knot,
)

LIST = "list.example.com"
RELAY = "relay.example.com"


def seal(data: bytes, key, domain: str, results: str) -> bytes:
    """Add the hop's Authentication-Results, then its ARC set (dkimpy arc_sign)."""
    data = f"Authentication-Results: {domain}; {results}\r\n".encode("ascii") + data
    headers = dkim.arc_sign(data, b"arc", domain.encode(), key.private, domain.encode())
    return b"".join(headers) + data


def list_hop(world, original: bytes) -> bytes:
    """The list checks the sender's signature, tags the subject, adds a footer and seals."""
    checked = "dkim=pass header.d=shop.example.org; spf=pass smtp.mailfrom=bounce@shop.example.org"
    edited = original.replace(b"Subject: ", b"Subject: [shop-news] ") + b"--\r\nshop-news mailing list\r\n"
    received = b"Received: from mail.shop.example.org (mail.shop.example.org [192.0.2.25])\r\n by lists.list.example.com with ESMTPS id 77AB12; Fri, 04 Dec 2026 10:00:02 +0000\r\n"
    return seal(received + edited, world.keys["list"], LIST, checked)


def relay_hop(world, data: bytes, arc_result: str = "pass") -> bytes:
    return seal(data, world.keys["relay"], RELAY, f"arc={arc_result}")


def sets_of(data: bytes) -> list[dict]:
    """The header facts verify_arc reads to name a hop (facts/arc builds them in the pipeline)."""
    from diag.facts import arc as arc_facts
    from diag.messages.reader import read_message

    parsed = read_message(data)
    return arc_facts.collect(parsed.headers, {}).get("sets", [])


def check(resolver, data: bytes) -> dict:
    return verify_arc(data, KeyStore(resolver), sets_of(data))


def original(world) -> bytes:
    return sign(message(), world.keys["s2048"], "s2048", SHOP)


def test_two_hops_pass(resolver, world):
    sealed = relay_hop(world, list_hop(world, original(world)))
    result = check(resolver, sealed)
    assert result["result"] == "pass"
    assert [entry["instance"] for entry in result["instances"]] == [2, 1]
    assert "broken_instance" not in result


def test_no_arc_is_none(resolver, world):
    assert check(resolver, original(world)) is None


def test_body_changed_after_last_seal(resolver, world):
    sealed = relay_hop(world, list_hop(world, original(world)))
    result = check(resolver, sealed + b"Appended after the relay sealed it.\r\n")
    assert result["result"] == "fail"
    assert result["broken_instance"] == 2
    assert "changed after that hop sealed it" in result["detail"]
    assert RELAY in result["detail"]


def test_relay_found_chain_broken(resolver, world):
    listed = list_hop(world, original(world))
    # A hop between the list and the relay rewrote the subject; the relay saw that and
    # sealed with cv=fail, as RFC 8617 section 5.1.2 requires.
    tampered = listed.replace(b"[shop-news]", b"[shop-news] [SPAM?]")
    keys = KeyStore(resolver)
    cv, _results, _reason = dkim.arc_verify(tampered, dnsfunc=keys.dnsfunc)
    assert cv == dkim.CV_Fail
    sealed = relay_hop(world, tampered, arc_result="fail")
    result = check(resolver, sealed)
    assert result["result"] == "fail"
    assert result["broken_instance"] == 2
    assert "cv=fail" in result["detail"]


def test_first_seal_altered(resolver, world):
    sealed = relay_hop(world, list_hop(world, original(world)))
    # Rewrite the list's ARC-Authentication-Results after both seals were made.
    altered = sealed.replace(b"ARC-Authentication-Results: i=1; list.example.com;", b"ARC-Authentication-Results: i=1; list.example.com; none;", 1)
    assert altered != sealed
    result = check(resolver, altered)
    assert result["result"] == "fail"
    assert result["broken_instance"] == 1
    assert "ARC-Seal of instance 1 (authserv-id list.example.com" in result["detail"]
