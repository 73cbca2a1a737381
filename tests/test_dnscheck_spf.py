"""SPF posture checks over an in-memory resolver (RFC 7208)."""

from diag.dnscheck.spf import check_spf, parse_term, split_terms, with_include
from tests.test_dnscheck_memory import MemoryResolver

SES = "v=spf1 ip4:199.255.192.0/22 ip4:199.127.232.0/22 ip4:54.240.0.0/18 -all"


def zone(records: dict | None = None) -> MemoryResolver:
    resolver = MemoryResolver().add("amazonses.com", "TXT", SES)
    for name, value in (records or {}).items():
        for text in value if isinstance(value, list) else [value]:
            resolver.add(name, "TXT", text)
    return resolver


def test_spf_valid_record():
    resolver = zone({"example.com": "v=spf1 include:amazonses.com ~all"})
    fact = check_spf(resolver, "example.com", "from", ("amazonses.com",))
    assert fact["status"] == "ok"
    assert fact["dns_lookups"] == 1
    assert fact["void_lookups"] == 0
    assert fact["all"] == "softfail"
    assert fact["missing_includes"] == []


def test_spf_missing():
    resolver = MemoryResolver().add("example.com", "TXT", "google-site-verification=abc")
    fact = check_spf(resolver, "example.com", "from", ("amazonses.com",))
    assert fact["status"] == "none"
    assert fact["suggested_record"] == "v=spf1 include:amazonses.com ~all"


def test_spf_uppercase_version():
    fact = check_spf(zone({"example.com": "V=SPF1 include:amazonses.com -all"}), "example.com", "from")
    assert fact["status"] == "ok"
    assert fact["all"] == "fail"


def test_spf_doubled_spaces():
    fact = check_spf(zone({"example.com": "v=spf1  include:amazonses.com   ~all"}), "example.com", "from")
    assert fact["status"] == "ok"
    assert fact["syntax_errors"] == []


def test_spf_version_prefix_only():
    # RFC 7208 section 4.5: "v=spf10" is not an SPF record.
    fact = check_spf(zone({"example.com": "v=spf10 include:amazonses.com ~all"}), "example.com", "from")
    assert fact["status"] == "none"


def test_spf_tab_is_not_separator():
    terms, errors = split_terms("v=spf1 include:amazonses.com\t~all")
    assert terms == ["include:amazonses.com\t~all"]
    assert len(errors) == 1


def test_spf_multiple_records():
    resolver = zone({"example.com": ["v=spf1 ip4:192.0.2.1 ~all", "v=spf1 include:amazonses.com ~all"]})
    fact = check_spf(resolver, "example.com", "from", ("amazonses.com",))
    assert fact["status"] == "permerror"
    assert fact["record_count"] == 2
    assert fact["suggested_record"] == "v=spf1 ip4:192.0.2.1 include:amazonses.com ~all"


def test_spf_split_txt_joined():
    # The resolver joins a TXT record's strings without a separator (RFC 7208 section 3.3).
    joined = "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 " + "include:amazonses.com ~all"
    fact = check_spf(zone({"example.com": joined}), "example.com", "from", ("amazonses.com",))
    assert fact["status"] == "ok"
    assert fact["includes"] == ["amazonses.com"]


def test_spf_long_record():
    long_record = "v=spf1 " + " ".join(f"ip4:192.0.2.{n}" for n in range(1, 50)) + " include:amazonses.com ~all"
    assert len(long_record.encode()) > 512
    fact = check_spf(zone({"example.com": long_record}), "example.com", "from", ("amazonses.com",))
    assert fact["status"] == "ok"
    assert fact["dns_lookups"] == 1


def test_spf_missing_ses_include():
    fact = check_spf(zone({"example.com": "v=spf1 ip4:192.0.2.1 -all"}), "example.com", "from", ("amazonses.com",))
    assert fact["missing_includes"] == ["amazonses.com"]
    assert fact["suggested_record"] == "v=spf1 ip4:192.0.2.1 include:amazonses.com -all"


def test_spf_nested_ses_include():
    resolver = zone({"example.com": "v=spf1 include:_spf.example.com ~all", "_spf.example.com": "v=spf1 include:amazonses.com ~all"})
    fact = check_spf(resolver, "example.com", "from", ("amazonses.com",))
    assert fact["missing_includes"] == []
    assert fact["dns_lookups"] == 2


def test_spf_eleven_lookups():
    resolver = zone()
    terms = []
    for n in range(1, 11):
        resolver.add(f"s{n}.example.net", "TXT", f"v=spf1 ip4:192.0.2.{n} -all")
        terms.append(f"include:s{n}.example.net")
    resolver.add("example.com", "TXT", "v=spf1 " + " ".join(terms) + " include:amazonses.com ~all")
    fact = check_spf(resolver, "example.com", "from", ("amazonses.com",))
    assert fact["dns_lookups"] == 11
    assert fact["lookups_exceeded"] is True
    assert fact["status"] == "permerror"


def test_spf_ten_lookups_allowed():
    resolver = zone()
    terms = []
    for n in range(1, 10):
        resolver.add(f"s{n}.example.net", "TXT", f"v=spf1 ip4:192.0.2.{n} -all")
        terms.append(f"include:s{n}.example.net")
    resolver.add("example.com", "TXT", "v=spf1 " + " ".join(terms) + " include:amazonses.com ~all")
    fact = check_spf(resolver, "example.com", "from", ("amazonses.com",))
    assert fact["dns_lookups"] == 10
    assert fact["lookups_exceeded"] is False


def test_spf_nested_lookups_counted():
    resolver = zone({"example.com": "v=spf1 include:_spf.example.com ~all", "_spf.example.com": "v=spf1 a mx a:mail.example.net -all"})
    resolver.add("_spf.example.com", "A", "192.0.2.1").add("_spf.example.com", "MX", "10 mx.example.com.").add("mail.example.net", "A", "192.0.2.2")
    fact = check_spf(resolver, "example.com", "from")
    assert fact["dns_lookups"] == 4
    assert fact["void_lookups"] == 0


def test_spf_void_lookups():
    # Three terms whose queries return NXDOMAIN or no records: over the limit of two.
    resolver = zone({"example.com": "v=spf1 a:nx1.example.com a:nx2.example.com mx:nomx.example.com include:amazonses.com ~all"})
    resolver.add("nomx.example.com", "A", "192.0.2.1")
    fact = check_spf(resolver, "example.com", "from")
    assert fact["void_lookups"] == 3
    assert fact["void_exceeded"] is True
    assert fact["dns_lookups"] == 4


def test_spf_void_in_include_counted_once():
    resolver = zone({"example.com": "v=spf1 include:_spf.example.com ~all", "_spf.example.com": "v=spf1 a:nx.example.com -all"})
    fact = check_spf(resolver, "example.com", "from")
    assert fact["void_lookups"] == 1
    assert fact["void_exceeded"] is False


def test_spf_repeated_include_counted_twice():
    # RFC 7208 section 4.6.4 counts each evaluated term; a cache must not hide the second one.
    resolver = zone({"example.com": "v=spf1 include:_spf.example.net include:_spf.example.net ~all", "_spf.example.net": "v=spf1 a:nx.example.net -all"})
    fact = check_spf(resolver, "example.com", "from")
    assert fact["dns_lookups"] == 4
    assert fact["void_lookups"] == 2


def test_spf_include_loop():
    resolver = zone({"example.com": "v=spf1 include:a.example.net ~all", "a.example.net": "v=spf1 include:b.example.net -all", "b.example.net": "v=spf1 include:a.example.net -all"})
    fact = check_spf(resolver, "example.com", "from")
    assert fact["loops"] == ["example.com -> a.example.net -> b.example.net -> a.example.net"]
    assert fact["status"] == "permerror"


def test_spf_redirect_missing_domain():
    fact = check_spf(zone({"example.com": "v=spf1 redirect=_spf.example.org"}), "example.com", "from")
    assert fact["missing_targets"] == [{"term": "redirect=_spf.example.org", "domain": "_spf.example.org", "status": "nxdomain"}]
    assert fact["void_lookups"] == 1
    assert fact["status"] == "permerror"


def test_spf_redirect_followed():
    resolver = zone({"example.com": "v=spf1 redirect=_spf.example.org", "_spf.example.org": "v=spf1 include:amazonses.com -all"})
    fact = check_spf(resolver, "example.com", "from", ("amazonses.com",))
    assert fact["status"] == "ok"
    assert fact["dns_lookups"] == 2
    assert fact["tree"]["terms"][0]["child"]["domain"] == "_spf.example.org"


def test_spf_redirect_ignored_with_all():
    fact = check_spf(zone({"example.com": "v=spf1 redirect=nx.example.org ~all"}), "example.com", "from")
    assert fact["dns_lookups"] == 0
    assert fact["status"] == "ok"


def test_spf_include_without_record():
    resolver = zone({"example.com": "v=spf1 include:example.net ~all"})
    resolver.add("example.net", "TXT", "some-verification=1")
    fact = check_spf(resolver, "example.com", "from")
    assert fact["missing_targets"][0]["domain"] == "example.net"
    assert fact["void_lookups"] == 0


def test_spf_pass_all():
    fact = check_spf(zone({"example.com": "v=spf1 include:amazonses.com +all"}), "example.com", "from")
    assert fact["all"] == "pass"


def test_spf_neutral_all():
    fact = check_spf(zone({"example.com": "v=spf1 include:amazonses.com ?all"}), "example.com", "from")
    assert fact["all"] == "neutral"


def test_spf_syntax_error():
    fact = check_spf(zone({"example.com": "v=spf1 ip4:192.0.2.0/33 include:amazonses.com ~all"}), "example.com", "from")
    assert fact["status"] == "permerror"
    assert "ip4:192.0.2.0/33" in fact["syntax_errors"][0]["error"]


def test_spf_temperror_top():
    resolver = MemoryResolver(failures={("example.com", "TXT"): "servfail"})
    fact = check_spf(resolver, "example.com", "from", ("amazonses.com",))
    assert fact["status"] == "temperror"


def test_spf_temperror_in_include():
    resolver = MemoryResolver(failures={("amazonses.com", "TXT"): "timeout"}).add("example.com", "TXT", "v=spf1 include:amazonses.com ~all")
    fact = check_spf(resolver, "example.com", "from", ("amazonses.com",))
    assert fact["status"] == "temperror"
    assert fact["missing_targets"] == []


def test_spf_macro_not_expanded():
    fact = check_spf(zone({"example.com": "v=spf1 exists:%{i}._spf.example.com include:amazonses.com ~all"}), "example.com", "from")
    assert fact["dns_lookups"] == 2
    assert fact["status"] == "ok"


def test_with_include_before_redirect():
    assert with_include("v=spf1 mx redirect=_spf.example.com", "amazonses.com") == "v=spf1 mx include:amazonses.com redirect=_spf.example.com"


def test_term_comma_error_spelled():
    error = parse_term("a:mail.example.com,", "example.com").error
    assert error == "Do not separate mechanisms with commas: a:mail.example.com,"
