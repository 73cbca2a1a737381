"""ARC sets read from header fields (RFC 8617), without signature checks."""

from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from diag.facts import arc
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
