"""Choice of the trusted Authentication-Results block and the verdicts derived from it."""

from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from diag.audit.summary import dkim_word
from diag.facts import authres, dkimsig, trust
from diag.messages.model import Header

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "headers"


def read_headers(name: str) -> list[Header]:
    message = BytesHeaderParser(policy=policy.compat32).parsebytes((SAMPLES / name).read_bytes())
    return [Header(key, str(value), index) for index, (key, value) in enumerate(message.items())]


def select(name: str, from_domain: str | None = "example.com", authserv_id: str | None = None):
    headers = read_headers(name)
    return trust.select(
        authres.collect(headers), headers, from_domain, dkimsig.collect(headers), authserv_id=authserv_id
    )


def make(*lines: tuple[str, str]) -> list[Header]:
    return [Header(name, value, index) for index, (name, value) in enumerate(lines)]


def test_list_stops_at_received():
    trusted, verdicts = select("auth-list-post-and-ingress.txt")
    assert trusted["authserv_id"] == "lists.example.org"
    assert trusted["how"] == "topmost"
    assert trusted["positions"] == [1]
    assert trusted["earlier_positions"] == [3, 4]
    assert [(e["domain"], e["result"]) for e in verdicts["dkim"]] == [("example.com", "fail")]
    assert "spf" not in verdicts


def test_list_dkim_matched_by_b_prefix():
    _, verdicts = select("auth-list-post-and-ingress.txt")
    assert verdicts["dkim"][0]["signature"] == 0
    assert verdicts["dkim"][0]["reason"] == "signature verification failed"
    assert verdicts["dkim_aligned_result"] == "fail"
    assert verdicts["dkim_aligned_pass"] is False


def test_split_block_merged():
    trusted, verdicts = select("auth-split-per-method-arc.txt")
    assert trusted["positions"] == [1, 5, 6, 7]
    assert "earlier_positions" not in trusted
    assert verdicts["arc"] == "pass"
    assert verdicts["dmarc"] == "pass"
    assert verdicts["dmarc_policy"] == "reject"
    assert verdicts["spf"] == "pass"
    assert verdicts["spf_domain"] == "example.com"
    assert verdicts["spf_aligned"] is True


def test_split_block_mixed_case_domain():
    _, verdicts = select("auth-split-per-method-arc.txt")
    assert verdicts["dkim"][0]["domain"] == "example.com"
    assert verdicts["dkim"][0]["signature"] == 0
    assert verdicts["dkim_aligned_pass"] is True


def test_lower_exchange_internal_not_trusted():
    headers = read_headers("auth-split-per-method-arc.txt")
    internal = [entry["position"] for entry in authres.collect(headers) if entry["authserv_id"] is None]
    trusted, verdicts = select("auth-split-per-method-arc.txt")
    assert len(internal) == 1
    assert internal[0] not in trusted["positions"]
    assert verdicts["dmarc"] == "pass"


def test_microsoft_topmost_without_id():
    trusted, verdicts = select("auth-m365-inbound-two-tenants.txt")
    assert trusted["how"] == "microsoft"
    assert trusted["authserv_id"] is None
    assert trusted["positions"] == [2]
    assert trusted["earlier_positions"] == [12]


def test_microsoft_verdicts():
    _, verdicts = select("auth-m365-inbound-two-tenants.txt")
    assert verdicts["spf"] == "softfail"
    assert verdicts["spf_domain"] == "bounce.example.com"
    assert verdicts["spf_aligned"] is True
    assert verdicts["dmarc"] == "fail"
    assert verdicts["dmarc_action"] == "oreject"
    assert verdicts["header_from"] == "example.com"
    assert verdicts["compauth"] == "fail"
    assert verdicts["compauth_reason"] == "001"
    assert verdicts["compauth_decoded"]["group"] == "fail"
    assert verdicts["compauth_decoded"]["documented"] is True


def test_microsoft_esp_only_dkim():
    _, verdicts = select("auth-m365-inbound-two-tenants.txt")
    assert verdicts["dkim"][0]["domain"] == "amazonses.com"
    assert verdicts["dkim"][0]["esp"] == "amazonses"
    assert verdicts["dkim"][0]["aligned"] is False
    assert verdicts["dkim"][0]["signature"] == 0
    assert verdicts["dkim_esp_pass"] is True
    assert verdicts["dkim_aligned_pass"] is False
    assert "dkim_aligned_result" not in verdicts


def test_yahoo_two_dkim_from_header_i():
    _, verdicts = select("auth-yahoo-arc-fail.txt")
    assert [(e["domain"], e["aligned"], e["esp"]) for e in verdicts["dkim"]] == [
        ("esp.example.org", False, None),
        ("example.com", True, None),
    ]
    assert [e["signature"] for e in verdicts["dkim"]] == [0, 1]
    assert verdicts["dmarc_policy"] == "reject"
    assert verdicts["arc"] == "fail"


def test_authserv_id_option():
    trusted, verdicts = select("auth-split-per-method-arc.txt", authserv_id="RELAY.example.org")
    assert trusted["how"] == "--authserv-id"
    assert trusted["positions"] == [1, 5, 6, 7]


def test_authserv_id_not_found():
    trusted, verdicts = select("auth-split-per-method-arc.txt", authserv_id="mx.example.net")
    assert trusted is None
    assert verdicts == {}


def test_no_authentication_results():
    headers = make(("Received", "from a by b; Thu, 5 Mar 2026 11:00:00 +0000"), ("From", "a@example.com"))
    assert trust.select(authres.collect(headers), headers, "example.com", []) == (None, {})


def test_from_domain_from_header_from():
    headers = make(("Authentication-Results", "spf=pass smtp.mailfrom=us-west-2.amazonses.com; "
                    "dkim=pass header.d=example.com;dmarc=bestguesspass action=none header.from=example.com"))
    _, verdicts = trust.select(authres.collect(headers), headers, None, [])
    assert verdicts["from_domain_source"] == "header.from"
    assert verdicts["spf_aligned"] is False
    assert verdicts["dkim_aligned_pass"] is True
    assert verdicts["dmarc"] == "bestguesspass"


def test_spf_mailfrom_over_helo():
    headers = make(("Authentication-Results", "mx.example.net; spf=none smtp.helo=mail.example.org; "
                    "spf=pass smtp.mailfrom=alex@example.com"))
    _, verdicts = trust.select(authres.collect(headers), headers, "example.com", [])
    assert verdicts["spf"] == "pass"
    assert verdicts["spf_identity"] == "mailfrom"
    assert verdicts["spf_domain"] == "example.com"


def test_spf_helo_only():
    headers = make(("Authentication-Results", "mx.example.net; spf=pass smtp.helo=mail.example.org"))
    _, verdicts = trust.select(authres.collect(headers), headers, "example.com", [])
    assert verdicts["spf"] == "pass"
    assert verdicts["spf_identity"] == "helo"
    assert verdicts["spf_domain"] == "mail.example.org"
    assert verdicts["spf_aligned"] is False


def test_topmost_wins_per_method():
    headers = make(
        ("Authentication-Results", "mx.example.net; dmarc=fail header.from=example.com"),
        ("Authentication-Results", "mx.example.net; dmarc=pass header.from=example.com; spf=pass smtp.mailfrom=example.com"),
    )
    _, verdicts = trust.select(authres.collect(headers), headers, "example.com", [])
    assert verdicts["dmarc"] == "fail"
    assert verdicts["spf"] == "pass"


def test_dkim_topmost_wins_per_signature():
    headers = make(
        ("Authentication-Results", "mx.example.net; dkim=fail header.d=example.com header.b=AAAA1111"),
        ("Authentication-Results", "mx.example.net; dkim=pass header.d=example.com header.b=AAAA1111; "
         "dkim=pass header.d=example.org header.b=BBBB2222"),
    )
    _, verdicts = trust.select(authres.collect(headers), headers, "example.com", [])
    assert [(e["domain"], e["result"]) for e in verdicts["dkim"]] == [("example.com", "fail"), ("example.org", "pass")]


def test_duplicate_signatures_matched_in_order():
    signature = "v=1; a=rsa-sha256; d=example.com; s=s1; h=from; bh=eA==; b=WvM577LAxyz"
    headers = make(
        ("Authentication-Results", "mx.example.net; dkim=pass header.d=example.com header.b=WvM577LA; "
         "dkim=pass header.d=example.com header.b=WvM577LA"),
        ("DKIM-Signature", signature),
        ("DKIM-Signature", signature),
    )
    _, verdicts = trust.select(authres.collect(headers), headers, "example.com", dkimsig.collect(headers))
    assert [e["signature"] for e in verdicts["dkim"]] == [0, 1]


def test_dmarc_policy_property():
    headers = make(("Authentication-Results", "mx.example.net; dmarc=fail policy.dmarc=quarantine header.from=example.com"))
    _, verdicts = trust.select(authres.collect(headers), headers, "example.com", [])
    assert verdicts["dmarc_policy"] == "quarantine"


def test_compauth_undocumented_code():
    headers = make(("Authentication-Results", "dmarc=fail action=none header.from=example.com;compauth=fail reason=503"))
    _, verdicts = trust.select(authres.collect(headers), headers, "example.com", [])
    assert verdicts["compauth_reason"] == "503"
    assert verdicts["compauth_decoded"]["documented"] is False
    assert verdicts["compauth_decoded"]["meaning"] is None


def test_dkim_comment_after_reason_kept():
    headers = [
        Header(
            "Authentication-Results",
            'mx.example.net; dkim=fail reason="signature verification failed" (body hash did not verify) header.d=example.com header.s=s1',
            0,
        )
    ]
    _, verdicts = trust.select(authres.collect(headers), headers, from_domain="example.com", dkim_signatures=[])
    assert "body hash did not verify" in verdicts["dkim"][0]["comment"]


def microsoft_unsigned():
    headers = make(("Authentication-Results", "spf=fail (sender IP is 203.0.113.10) smtp.mailfrom=example.org; "
                    "dkim=none (message not signed) header.d=none;dmarc=fail action=oreject "
                    "header.from=example.org;compauth=fail reason=000"))
    return trust.select(authres.collect(headers), headers, "example.org", [])[1]


def test_microsoft_unsigned_no_domain():
    verdicts = microsoft_unsigned()
    assert verdicts["dkim"][0]["domain"] is None
    assert verdicts["dkim"][0]["result"] == "none"
    assert verdicts["dkim"][0]["esp"] is None


def test_microsoft_unsigned_summaries():
    verdicts = microsoft_unsigned()
    assert verdicts["dkim_signed"] is False
    assert verdicts["dkim_esp_pass"] is False
    assert "dkim_aligned_result" not in verdicts
    assert dkim_word(verdicts) == "none"


def test_signed_message_flagged():
    _, verdicts = select("auth-m365-inbound-two-tenants.txt")
    assert verdicts["dkim_signed"] is True
    assert dkim_word(verdicts) == "not-aligned"


def test_aligned_pass_after_fail():
    headers = make(
        ("Authentication-Results", "mx.example.net; dkim=fail header.d=example.com header.b=aaa;"
                                   " dkim=pass header.d=mail.example.com header.b=bbb; dkim=pass header.d=example.net"),
        ("Received", "from a.example.net by mx.example.net; Mon, 2 Feb 2026 10:00:00 +0000"),
    )
    _, verdicts = trust.select(authres.collect(headers), headers, "example.com", [])
    assert verdicts["dkim_aligned_result"] == "pass"
    assert verdicts["dkim_aligned_pass"] is True
    assert verdicts["dkim_signed"] is True
    assert verdicts["dkim_esp_pass"] is False
    assert [entry["aligned"] for entry in verdicts["dkim"]] == [True, True, False]
