"""The public suffix list build and organisational domains of ASCII and IDN names."""

from publicsuffixlist import PublicSuffixList

from diag.facts.orgdomain import _build_list, org_domain


def test_list_matches_library_default():
    built = _build_list()
    default = PublicSuffixList()
    assert built._publicsuffix == default._publicsuffix
    assert built._maxlabel == default._maxlabel


def test_org_domain_ascii_suffix():
    assert org_domain("mail.example.co.uk") == "example.co.uk"


def test_org_domain_private_suffix():
    assert org_domain("shop.example.github.io") == "example.github.io"


def test_org_domain_unicode_idn_suffix():
    assert org_domain("mail.beispiel.公司.cn") == "beispiel.公司.cn"


def test_org_domain_punycode_idn_suffix():
    # xn--55qx5d is 公司, a second-level suffix under .cn in the public suffix list.
    assert org_domain("mail.beispiel.xn--55qx5d.cn") == "beispiel.xn--55qx5d.cn"


def test_org_domain_exception_rule():
    # "!www.ck" is an exception to the wildcard "*.ck".
    assert org_domain("mail.www.ck") == "www.ck"
