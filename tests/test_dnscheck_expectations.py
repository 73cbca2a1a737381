"""Expectations files: TOML, pyproject.toml, and errors that name the key."""

import pytest

from diag.dnscheck.expectations import load_expectations, parse_expectations
from diag.dnscheck.names import to_ascii_domain
from diag.errors import InputError


def test_expectations_sample():
    loaded = load_expectations("samples/expectations/customer-fixed.toml")
    assert loaded.domain == "customer-fixed.example.org"
    assert loaded.region == "us-east-1"
    assert len(loaded.dkim_tokens) == 3


def test_expectations_pyproject(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.maildiag]\ndomain = "example.com"\nmin_dmarc_policy = "reject"\n')
    assert load_expectations(path).min_dmarc_policy == "reject"


def test_expectations_unknown_key():
    with pytest.raises(InputError, match="dkim_token"):
        parse_expectations({"dkim_token": ["a"]}, "x.toml")


def test_expectations_bad_region():
    with pytest.raises(InputError, match="region 'us-east-9'"):
        parse_expectations({"region": "us-east-9"}, "x.toml")


def test_expectations_bad_policy():
    with pytest.raises(InputError, match="min_dmarc_policy"):
        parse_expectations({"min_dmarc_policy": "strict"}, "x.toml")


def test_expectations_two_tokens():
    with pytest.raises(InputError, match="dkim_tokens"):
        parse_expectations({"dkim_tokens": ["a", "b"]}, "x.toml")


def test_expectations_invalid_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("domain = \n")
    with pytest.raises(InputError, match="invalid TOML"):
        load_expectations(path)


def test_domain_idn_to_alabel():
    assert to_ascii_domain("Bücher.example") == "xn--bcher-kva.example"


def test_domain_invalid():
    with pytest.raises(InputError, match="not a valid domain"):
        to_ascii_domain("a..example.com")
