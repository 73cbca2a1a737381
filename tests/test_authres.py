"""Authentication-Results parsing: RFC 8601 fields and the forms real receivers write."""

from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

import authres as reference
import pytest

from diag.facts import authres
from diag.messages.model import Header

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "headers"


def read_headers(name: str) -> list[Header]:
    message = BytesHeaderParser(policy=policy.compat32).parsebytes((SAMPLES / name).read_bytes())
    return [Header(key, str(value), index) for index, (key, value) in enumerate(message.items())]


def parse(value: str, arc: bool = False) -> dict:
    return authres.parse_value(value, arc=arc)


def test_microsoft_no_authserv_id():
    parsed = parse(
        "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.com; dkim=pass (signature was verified) "
        "header.d=example.com;dmarc=fail action=oreject header.from=example.com;compauth=fail reason=001"
    )
    assert parsed["authserv_id"] is None
    assert [r["method"] for r in parsed["results"]] == ["spf", "dkim", "dmarc", "compauth"]
    assert parsed["results"][0]["comment"] == "sender IP is 192.0.2.1"
    assert parsed["results"][0]["properties"] == {"smtp.mailfrom": "example.com"}
    assert parsed["results"][1]["comment"] == "signature was verified"
    assert parsed["results"][2]["properties"] == {"action": "oreject", "header.from": "example.com"}
    assert parsed["results"][3]["result"] == "fail"
    assert parsed["results"][3]["reason"] == "001"
    assert parsed["errors"] == []


def test_bare_domains_between_clauses():
    parsed = parse(
        "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.com; example.net; dkim=pass "
        "(signature was verified) header.d=example.com;example.net; dmarc=pass action=none header.from=example.com"
    )
    assert [r["method"] for r in parsed["results"]] == ["spf", "dkim", "dmarc"]
    assert parsed["embedded_ids"] == ["example.net", "example.net"]
    assert parsed["errors"] == []


def test_empty_property_value():
    parsed = parse("dkim=none (message not signed) header.d=none;dmarc=none action=none header.from=;")
    assert parsed["results"][1]["properties"] == {"action": "none", "header.from": ""}
    assert parsed["results"][0]["properties"] == {"header.d": "none"}
    assert parsed["errors"] == []


def test_authres_version_in_arc():
    parsed = parse("i=1; mx.microsoft.com 1; spf=pass smtp.mailfrom=example.com; arc=none", arc=True)
    assert parsed["instance"] == 1
    assert parsed["authserv_id"] == "mx.microsoft.com"
    assert parsed["version"] == 1
    assert [(r["method"], r["result"]) for r in parsed["results"]] == [("spf", "pass"), ("arc", "none")]


def test_yahoo_comment_without_space():
    parsed = parse(
        "atlas.example.net; dmarc=pass(p=REJECT) header.from=example.com arc_overridden_status=NOT_OVERRIDDEN;"
    )
    dmarc = parsed["results"][0]
    assert dmarc["result"] == "pass"
    assert dmarc["comment"] == "p=REJECT"
    assert dmarc["properties"] == {"header.from": "example.com", "arc_overridden_status": "NOT_OVERRIDDEN"}
    assert len(parsed["results"]) == 1
    assert parsed["errors"] == []


def test_dkim_atps_clause():
    parsed = parse("lists.example.org; dkim=pass header.d=example.com header.b=AbCdEfGh; dkim-atps=neutral")
    assert parsed["results"][1] == {
        "method": "dkim-atps", "result": "neutral", "reason": None, "comment": None, "properties": {},
    }


def test_quoted_reason_with_colon():
    parsed = parse('example.org; dkim=fail reason="bad: key; not found" header.d=example.com')
    assert parsed["results"][0]["reason"] == "bad: key; not found"
    assert parsed["results"][0]["properties"] == {"header.d": "example.com"}


def test_nested_comment():
    parsed = parse("example.org; dmarc=fail (p=none (from DNS) dis=none) header.from=example.com")
    assert parsed["results"][0]["comment"] == "p=none (from DNS) dis=none"
    assert parsed["results"][0]["properties"] == {"header.from": "example.com"}


def test_comment_with_semicolons_keeps_clause():
    parsed = parse("example.org; dkim=pass (1024-bit key; unprotected) header.d=example.com; spf=none")
    assert [r["method"] for r in parsed["results"]] == ["dkim", "spf"]
    assert parsed["results"][0]["comment"] == "1024-bit key; unprotected"


def test_property_comment_kept():
    parsed = parse("example.org; spf=fail (not authorized) smtp.mailfrom=example.com (client-ip=192.0.2.5; helo=a)")
    assert parsed["results"][0]["comment"] == "not authorized"
    assert parsed["results"][0]["property_comments"] == {"smtp.mailfrom": "client-ip=192.0.2.5; helo=a"}


def test_stray_for_address():
    parsed = parse(
        "example.org; dkim=pass header.d=example.com header.b=AbCd for <user@example.net>; spf=pass smtp.mailfrom=example.com"
    )
    assert [r["method"] for r in parsed["results"]] == ["dkim", "spf"]
    assert parsed["results"][0]["properties"] == {"header.d": "example.com", "header.b": "AbCd"}
    assert len(parsed["errors"]) == 1
    assert "for <user@example.net>" in parsed["errors"][0]


def test_unregistered_result_words():
    parsed = parse("dmarc=bestguesspass action=none header.from=example.com;compauth=softpass reason=201")
    assert parsed["results"][0]["result"] == "bestguesspass"
    assert parsed["results"][1]["result"] == "softpass"
    assert parsed["results"][1]["reason"] == "201"


def test_quoted_address_value():
    parsed = parse('mx.example.net; spf=neutral smtp.mailfrom="a+caf_=b=example.org@example.net"')
    assert parsed["results"][0]["properties"] == {"smtp.mailfrom": "a+caf_=b=example.org@example.net"}


def test_unquoted_value_with_equals():
    parsed = parse("mx.example.net; spf=pass smtp.mailfrom=bounce+x=y@example.com")
    assert parsed["results"][0]["properties"] == {"smtp.mailfrom": "bounce+x=y@example.com"}


def test_none_result():
    parsed = parse("mx.example.net; none")
    assert parsed["authserv_id"] == "mx.example.net"
    assert parsed["results"] == []
    assert parsed["errors"] == []


def test_unclosed_comment_keeps_earlier_clauses():
    parsed = parse("mx.example.net; spf=pass smtp.mailfrom=example.com; dkim=pass (unclosed header.d=example.com")
    assert parsed["results"][0]["properties"] == {"smtp.mailfrom": "example.com"}
    assert parsed["results"][1]["method"] == "dkim"
    assert parsed["errors"] == ["comment opened at offset 62 is not closed"]


def test_garbage_clause_isolated():
    parsed = parse("mx.example.net; spf=pass smtp.mailfrom=example.com; this is not a clause; dmarc=pass")
    assert [r["method"] for r in parsed["results"]] == ["spf", "dmarc"]
    assert parsed["errors"] == ["clause 'this is not a clause' is not method=result; ignored"]


def test_leftover_text_read_by_authres():
    parsed = parse("mx.example.net; spf=pass smtp.mailfrom=example.com junk")
    assert parsed["results"][0]["properties"] == {"smtp.mailfrom": "example.com"}
    assert parsed["errors"] == ["clause 'spf=pass smtp.mailfrom=example.com junk': read by authres after the tokenizer left 'junk'"]


def test_arc_missing_instance():
    parsed = parse("mx.example.net; spf=pass smtp.mailfrom=example.com", arc=True)
    assert parsed["authserv_id"] == "mx.example.net"
    assert parsed["errors"] == []
    assert "instance" not in parsed


def test_collect_sample_fields():
    collected = authres.collect(read_headers("auth-split-per-method-arc.txt"))
    fields = [(entry["field"], entry["authserv_id"], entry.get("instance")) for entry in collected]
    assert fields == [
        ("Authentication-Results", "relay.example.org", None),
        ("ARC-Authentication-Results", "relay.example.org", 2),
        ("Authentication-Results", "relay.example.org", None),
        ("Authentication-Results", "relay.example.org", None),
        ("Authentication-Results", "relay.example.org", None),
        ("ARC-Authentication-Results", "mx.microsoft.com", 1),
        ("Authentication-Results", None, None),
    ]
    assert collected[0]["results"][0]["properties"] == {"smtp.remote-ip": "203.0.113.7"}


def test_collect_results_independent():
    headers = [Header("Authentication-Results", "mx.example.net; spf=pass smtp.mailfrom=example.com", 0)]
    first = authres.collect(headers)
    first[0]["results"][0]["properties"]["smtp.mailfrom"] = "changed.example"
    second = authres.collect(headers)
    assert second[0]["results"][0]["properties"]["smtp.mailfrom"] == "example.com"


def sample_values() -> list[str]:
    values = []
    for path in sorted(SAMPLES.glob("auth-*.txt")):
        for header in read_headers(path.name):
            if header.name.lower() == "authentication-results":
                values.append(header.unfolded)
    return values


def accepted_by_authres() -> list[str]:
    accepted = []
    for value in sample_values():
        try:
            reference.core_features().parse_value(value)
        except reference.AuthResError:
            continue
        accepted.append(value)
    return accepted


def test_reference_accepts_most_samples():
    # Microsoft's id-less fields and Yahoo's trailing ";" are the ones authres rejects.
    assert len(accepted_by_authres()) >= 7
    assert len(sample_values()) - len(accepted_by_authres()) == 4


@pytest.mark.parametrize("value", accepted_by_authres())
def test_same_reading_as_authres(value):
    """authres is the reference for fields it accepts: method, result and the
    ptype.property values must agree."""
    theirs = reference.core_features().parse_value(value)
    ours = parse(value)
    assert ours["authserv_id"] == theirs.authserv_id
    assert [(r["method"], r["result"]) for r in ours["results"]] == [
        (str(r.method), str(r.result).lower()) for r in theirs.results
    ]
    for mine, their in zip(ours["results"], theirs.results):
        typed = {key: value for key, value in mine["properties"].items() if "." in key}
        assert typed == {f"{p.type}.{p.name}".lower(): p.value for p in their.properties}


def test_received_spf_pairs():
    parsed = authres.parse_received_spf(
        "Pass (protection.outlook.com: domain of example.com designates 198.51.100.40 as permitted sender)"
        " receiver=protection.outlook.com; client-ip=198.51.100.40; helo=a1.example.com; pr=C"
    )
    assert parsed["result"] == "pass"
    assert parsed["comment"].startswith("protection.outlook.com: domain of example.com")
    assert parsed["pairs"]["client-ip"] == "198.51.100.40"
    assert parsed["pairs"]["helo"] == "a1.example.com"
    assert parsed["errors"] == []


def test_received_spf_quoted_and_ipv6():
    parsed = authres.parse_received_spf('pass (mailfrom) identity=mailfrom; client-ip=2001:db8::1; envelope-from="a b"@example.com')
    assert parsed["pairs"]["client-ip"] == "2001:db8::1"
    assert parsed["pairs"]["envelope-from"] == "a b@example.com"


def test_received_spf_pairs_without_semicolons():
    parsed = authres.parse_received_spf("None identity=helo client-ip=192.0.2.1 helo=x.example.com")
    assert parsed["result"] == "none"
    assert parsed["pairs"] == {"identity": "helo", "client-ip": "192.0.2.1", "helo": "x.example.com"}


def test_received_spf_stray_text():
    parsed = authres.parse_received_spf("softfail (comment) client-ip=192.0.2.1; trailing")
    assert parsed["pairs"] == {"client-ip": "192.0.2.1"}
    assert parsed["errors"] == ["Received-SPF text 'trailing' is not key=value; ignored"]


# Forms of the common-form reader's edge cases: runs, quoted values, comments on values,
# empty values, bare domains, versions, and forms it must leave to the tokenizer.
EDGE_VALUES = [
    "mx.example.net 1; spf=pass smtp.mailfrom=bounce+x=y@example.com (helo=a; b) header.b=abc=",
    'mx.example.net; dkim=fail reason="bad key; see (x)" header.d=example.com header.from=""',
    "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.com; example.net; none; ;",
    "mx.example.net; dkim/1=pass header.d= header.s=sel (selector) (second)",
    "mx.example.net; reason=x reason=y reason=z",
    "mx.example.net; spf=pass smtp.mailfrom= example.com",
    "mx.example.net; spf = pass smtp.mailfrom=example.com",
    "mx.example.net; spf=pass (a (nested) comment) smtp.mailfrom=example.com",
    "mx.example.net; spf=pass smtp.mailfrom=a\\b@example.com",
    "mx.example.net (comment); spf=pass",
    "mx.example.net 1 2; spf=pass",
    "mx.example.net; spf=pass (c)smtp.mailfrom=example.com",
    "mx.example.net; spf=pass smtp.mailfrom=\u00e9.example.com\u00a0",
    "mx.example.net; spf=",
    "; spf=pass",
    "",
]


def all_sample_values() -> list[tuple[str, bool]]:
    values = []
    for path in sorted(SAMPLES.glob("*.txt")):
        for header in read_headers(path.name):
            name = header.name.lower()
            if name in authres.FIELD_NAMES:
                values.append((header.unfolded, name == "arc-authentication-results"))
    return values


@pytest.mark.parametrize("arc", [False, True])
@pytest.mark.parametrize("value", EDGE_VALUES)
def test_common_form_same_as_tokens(value, arc):
    common = authres._parse_common(value, arc)
    if common is not None:
        assert common == authres._parse_tokens(value, arc)


def test_common_form_on_samples():
    values = all_sample_values()
    common = [(value, arc) for value, arc in values if authres._parse_common(value, arc) is not None]
    # Microsoft 365, Gmail and the other receivers in the samples write the common form.
    assert len(common) >= len(values) * 3 // 4
    for value, arc in common:
        assert authres._parse_common(value, arc) == authres._parse_tokens(value, arc), value


def test_common_form_microsoft_and_gmail():
    microsoft = "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.com; dkim=pass header.d=example.com"
    gmail = "mx.google.com; dkim=pass header.i=@example.com header.s=s1 header.b=AbCd; dmarc=pass (p=REJECT) header.from=example.com"
    assert authres._parse_common(microsoft, False) is not None
    assert authres._parse_common(gmail, False) is not None


def test_common_form_declines_nested_comment():
    assert authres._parse_common("mx.example.net; spf=pass (a (b) c) smtp.mailfrom=example.com", False) is None


@pytest.mark.parametrize("value", EDGE_VALUES + ['a "unclosed', "a (unclosed", "a) b", 'x="a\\"b" (c\\)d)'])
def test_regex_tokens_same_as_characters(value):
    assert authres._tokenize(value) == authres._tokenize_by_character(value)


def test_regex_tokens_on_samples():
    for value, _ in all_sample_values():
        assert authres._tokenize(value) == authres._tokenize_by_character(value), value


# Clauses that _COMMON_PLAIN_RESINFO matches but _plain_resinfo declines, or that it does
# not match, so that the full _COMMON_RESINFO pattern or the tokenizer decides.
PLAIN_DECLINED = [
    ("mx.example.net; dkim=pass header.d=example.com =x", None),
    ("mx.example.net; dkim=pass header.d=example.com for", None),
    ("mx.example.net; dkim=pass (c)header.d=example.com", None),
    ("mx.example.net; spf=pass smtp.mailfrom=a@example.com (c) x=1", "common"),
    ('mx.example.net; dmarc=pass header.from="a b"@example.com', "common"),
    ("mx.example.net; dkim/1=pass header.d=example.com ;", "common"),
]


@pytest.mark.parametrize(("value", "expected"), PLAIN_DECLINED)
def test_plain_clause_fallback(value, expected):
    common = authres._parse_common(value, False)
    if expected is None:
        assert common is None
    else:
        assert common == authres._parse_tokens(value, False)


def test_plain_clause_declines_bare_word():
    match = authres._COMMON_PLAIN_RESINFO.match("dkim=pass header.d=example.com for")
    assert match is not None
    assert authres._plain_resinfo(match) is None
