"""DKIM-Signature tag lists (RFC 6376 section 3.2 and 3.5)."""

from diag.facts import dkimsig
from diag.messages.model import Header


def collect(value: str) -> dict:
    return dkimsig.collect([Header("DKIM-Signature", value, 3)])[0]


def test_tags_normalised():
    signature = collect(
        "v=1; a=rsa-sha256; c=relaxed/simple;\r\n\ts=sel; d=Example.COM; t=1772532002; x=1772618402;\r\n"
        "\th=From:To : Subject;\r\n\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\tb=Qk1x YWJj\r\n\t ZGVm;"
    )
    assert signature["d"] == "example.com"
    assert signature["s"] == "sel"
    assert signature["a"] == "rsa-sha256"
    assert signature["c"] == "relaxed/simple"
    assert signature["h"] == ["From", "To", "Subject"]
    assert signature["t"] == 1772532002
    assert signature["x"] == 1772618402
    assert signature["b"] == "Qk1xYWJjZGVm"
    assert signature["bh"] == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert signature["position"] == 3
    assert signature["errors"] == []


def test_optional_tags():
    signature = collect("v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=eA==; b=eQ==; l=120; i=@mail.example.com")
    assert signature["l"] == 120
    assert signature["i"] == "@mail.example.com"


def test_duplicate_tag():
    signature = collect("v=1; a=rsa-sha256; d=example.com; d=example.org; s=s; h=from; bh=eA==; b=eQ==")
    assert signature["d"] == "example.com"
    assert signature["errors"] == ["tag 'd' appears more than once (RFC 6376 section 3.2)"]


def test_missing_required_tags():
    signature = collect("v=1; a=rsa-sha256; d=example.com; b=eQ==")
    assert signature["errors"] == [
        "required tag 'bh' is missing",
        "required tag 'h' is missing",
        "required tag 's' is missing",
    ]


def test_bad_tag_spec():
    tags, errors = dkimsig.parse_tag_list("v=1; junk; 9x=1; a=rsa-sha256;")
    assert tags == {"v": "1", "a": "rsa-sha256"}
    assert errors == ["tag-spec 'junk' has no '='", "tag name '9x' is not ALPHA *(ALPHA / DIGIT / '_')"]


def test_non_numeric_timestamp_kept():
    signature = collect("v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=eA==; b=eQ==; t=soon")
    assert signature["t"] == "soon"


def test_ignores_other_fields():
    headers = [Header("X-Google-DKIM-Signature", "v=1; d=example.com", 0), Header("Subject", "hi", 1)]
    assert dkimsig.collect(headers) == []
