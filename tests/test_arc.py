"""ARC sets read from header fields (RFC 8617), without signature checks."""

from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from diag.facts import arc, authres
from diag.messages.model import Header

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "headers"


def read_headers(name: str) -> list[Header]:
    message = BytesHeaderParser(policy=policy.compat32).parsebytes((SAMPLES / name).read_bytes())
    return [Header(key, str(value), index) for index, (key, value) in enumerate(message.items())]


def test_two_intact_sets():
    facts = arc.collect(read_headers("auth-split-per-method-arc.txt"), {"arc": "pass"})
    assert [s["instance"] for s in facts["sets"]] == [1, 2]
    assert facts["sets"][0]["cv"] == "none"
    assert facts["sets"][0]["seal_d"] == "example.com"
    assert facts["sets"][0]["authserv_id"] == "mx.microsoft.com"
    assert facts["sets"][1]["cv"] == "pass"
    assert facts["sets"][1]["message_d"] == "relay.example.org"
    assert facts["broken"] is False
    assert "broken_instance" not in facts
    assert "structure_errors" not in facts


def test_seal_cv_fail():
    facts = arc.collect(read_headers("auth-yahoo-arc-fail.txt"), {})
    assert facts["broken"] is True
    assert facts["broken_instance"] == 2
    assert facts["sets"][1]["seal_d"] == "groups.example.org"


def test_trusted_arc_fail_without_seal_fail():
    headers = [
        Header("ARC-Seal", "i=1; a=rsa-sha256; d=example.org; s=s; cv=none; b=eA==", 0),
        Header("ARC-Message-Signature", "i=1; a=rsa-sha256; d=example.org; s=s; h=from; bh=eA==; b=eA==", 1),
        Header("ARC-Authentication-Results", "i=1; mx.example.org; spf=pass smtp.mailfrom=example.com", 2),
    ]
    facts = arc.collect(headers, {"arc": "fail"})
    assert facts["broken"] is True
    assert "broken_instance" not in facts


def test_missing_member_and_gap():
    headers = [
        Header("ARC-Seal", "i=3; a=rsa-sha256; cv=pass; d=example.org; s=s; b=eA==", 0),
        Header("ARC-Seal", "a=rsa-sha256; i=1; cv=none; d=example.org; s=s; b=eA==", 1),
    ]
    facts = arc.collect(headers, {})
    assert facts["structure_errors"] == [
        "ARC instance 1 has 0 message header fields, expected 1",
        "ARC instance 1 has 0 results header fields, expected 1",
        "ARC instance 3 has 0 message header fields, expected 1",
        "ARC instance 3 has 0 results header fields, expected 1",
        "ARC instances [1, 3] are not 1..2 without gaps",
    ]


def test_no_arc():
    assert arc.collect([Header("Subject", "hi", 0)], {}) == {}


def list_chain(first_hop_results: str, top_seal_d: str = "example.net", top_aar: str = "i=2; mx.example.net; arc=pass") -> list[Header]:
    """An ARC chain of a list (i=1, lists.example.org) and the receiver (i=2), top first."""
    lines = [
        ("ARC-Seal", f"i=2; a=rsa-sha256; cv=pass; d={top_seal_d}; s=s; b=eA=="),
        ("ARC-Message-Signature", f"i=2; a=rsa-sha256; d={top_seal_d}; s=s; h=from; bh=eA==; b=eA=="),
        ("ARC-Authentication-Results", top_aar),
        ("ARC-Seal", "i=1; a=rsa-sha256; cv=none; d=lists.example.org; s=s; b=eA=="),
        ("ARC-Message-Signature", "i=1; a=rsa-sha256; d=lists.example.org; s=s; h=from; bh=eA==; b=eA=="),
        ("ARC-Authentication-Results", first_hop_results),
    ]
    return [Header(name, value, index) for index, (name, value) in enumerate(lines)]


PASSED_AT_LIST = (
    "i=1; mail.lists.example.org; dkim=pass header.d=example.com header.s=k1 header.b=abc;"
    " spf=pass smtp.mailfrom=bounce@mail.example.com; dmarc=pass (p=quarantine) header.from=example.com"
)
TRUSTED = {"authserv_id": "mx.example.net", "positions": [0], "how": "topmost"}


def test_first_hop_results():
    facts = arc.collect(list_chain(PASSED_AT_LIST), {"arc": "pass"}, from_domain="example.com", trusted=TRUSTED)
    hop = facts["first_hop"]
    assert hop["authserv_id"] == "mail.lists.example.org"
    assert hop["sealer"] == "lists.example.org"
    assert hop["dkim"] == [{"domain": "example.com", "result": "pass", "aligned": True}]
    assert hop["dkim_aligned_pass"] is True
    assert hop["spf"] == "pass"
    assert hop["spf_domain"] == "mail.example.com"
    assert hop["spf_aligned_pass"] is True
    assert hop["dmarc"] == "pass"
    assert hop["dmarc_policy"] == "quarantine"
    assert hop["from_authenticated"] is True


def test_first_hop_dmarc_fail_decides():
    results = "i=1; mail.lists.example.org; dkim=pass header.d=example.com; dmarc=fail header.from=example.com"
    hop = arc.collect(list_chain(results), {"arc": "pass"}, from_domain="example.com", trusted=TRUSTED)["first_hop"]
    assert hop["dkim_aligned_pass"] is True
    assert hop["from_authenticated"] is False


def test_first_hop_without_dmarc_clause():
    results = "i=1; mail.lists.example.org; dkim=pass header.d=example.com"
    hop = arc.collect(list_chain(results), {"arc": "pass"}, from_domain="example.com", trusted=TRUSTED)["first_hop"]
    assert "dmarc" not in hop
    assert hop["from_authenticated"] is True


def test_first_hop_uses_its_header_from():
    # A list that rewrote From to its own address: the first hop judged the original From.
    hop = arc.collect(list_chain(PASSED_AT_LIST), {"arc": "pass"}, from_domain="lists.example.org", trusted=TRUSTED)["first_hop"]
    assert hop["header_from"] == "example.com"
    assert hop["dkim_aligned_pass"] is True


def test_chain_pass_from_receiver():
    facts = arc.collect(list_chain(PASSED_AT_LIST), {"arc": "pass"}, trusted=TRUSTED)
    assert facts["chain_pass"] is True
    assert facts["chain_pass_source"] == "authentication-results"


def test_chain_fail_from_receiver():
    facts = arc.collect(list_chain(PASSED_AT_LIST), {"arc": "fail"}, trusted=TRUSTED)
    assert facts["chain_pass"] is False


def test_chain_seal_fail_overrides_receiver():
    headers = list_chain(PASSED_AT_LIST)
    headers[0] = Header("ARC-Seal", "i=2; a=rsa-sha256; cv=fail; d=example.net; s=s; b=eA==", 0)
    facts = arc.collect(headers, {"arc": "pass"}, trusted=TRUSTED)
    assert facts["chain_pass"] is False
    assert facts["chain_pass_source"] == "arc-seal"


def test_chain_pass_from_receiver_seal():
    facts = arc.collect(list_chain(PASSED_AT_LIST), {}, trusted=TRUSTED)
    assert facts["chain_pass"] is True
    assert facts["chain_pass_source"] == "arc-authentication-results i=2"


def test_chain_unknown_when_other_sealer():
    facts = arc.collect(list_chain(PASSED_AT_LIST, top_seal_d="relay.example.com"), {}, trusted=TRUSTED)
    assert "chain_pass" not in facts


def test_chain_unknown_when_arc_none():
    facts = arc.collect(list_chain(PASSED_AT_LIST), {"arc": "none"}, trusted=None)
    assert "chain_pass" not in facts
    assert facts["first_hop"]["from_authenticated"] is True


def test_parsed_results_handed_over():
    headers = list_chain(PASSED_AT_LIST)
    auth_headers = authres.collect(headers)
    assert arc.collect(headers, {"arc": "pass"}, trusted=TRUSTED, auth_headers=auth_headers) == arc.collect(
        headers, {"arc": "pass"}, trusted=TRUSTED
    )

    # The entries of auth.headers are used as they are, not parsed again. The second one is
    # the ARC-Authentication-Results of instance 1.
    assert auth_headers[1]["position"] == 5
    auth_headers[1] = dict(auth_headers[1], authserv_id="handed-over.example.net")
    facts = arc.collect(headers, {"arc": "pass"}, trusted=TRUSTED, auth_headers=auth_headers)
    assert facts["sets"][0]["authserv_id"] == "handed-over.example.net"
    assert facts["sets"][1]["authserv_id"] == "mx.example.net"
