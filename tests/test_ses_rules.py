"""The SES rules (rules/ses-*.yaml) over their pass and fail samples, and their rendered fixes."""

import json
import re
from pathlib import Path

import pytest

from diag.engine.evaluate import evaluate_rule
from diag.engine.loader import load_rules

ROOT = Path(__file__).resolve().parent.parent
SES_RULES = {rule.name: rule for rule in load_rules([]) if rule.name.startswith("ses-") and not rule.name.startswith("ses-dkim-")}
CASES = [
    (name, kind, sample)
    for name, rule in sorted(SES_RULES.items())
    for kind in ("fail", "pass")
    for sample in getattr(rule, f"samples_{kind}")
]


def _facts(sample: str) -> dict:
    return json.loads((ROOT / sample).read_text(encoding="utf-8"))


def _outcome(name: str, sample: str) -> dict:
    return evaluate_rule(SES_RULES[name], _facts(sample))


def test_catalogue_rules_present():
    for name in ("ses-sandbox", "ses-identity-unverified", "ses-region-mismatch", "ses-reputation", "ses-config-incomplete"):
        assert name in SES_RULES


def test_codes_in_md6xx():
    for rule in SES_RULES.values():
        assert rule.code.startswith("MD6"), rule.name


@pytest.mark.parametrize("name,kind,sample", CASES, ids=[f"{name}-{kind}-{Path(sample).stem}" for name, kind, sample in CASES])
def test_rule_sample(name, kind, sample):
    assert _outcome(name, sample)["outcome"] == kind


def test_dkim_fix_lists_records():
    fix = " ".join(_outcome("ses-identity-dkim-not-verified", "samples/ses/identity-pending-fail.json")["fix"])
    for token in ("dddefghijklmnopqrstuvwxyz234567a", "eeefghijklmnopqrstuvwxyz234567ab", "fffghijklmnopqrstuvwxyz234567abc"):
        assert f"`{token}._domainkey.example.net CNAME {token}.dkim.amazonses.com`" in fix


def test_sandbox_fix_names_region():
    fix = " ".join(_outcome("ses-sandbox", "samples/ses/sandbox-fail.json")["fix"])
    assert "aws sesv2 put-account-details --region eu-west-1 --production-access-enabled" in fix


def test_sandbox_message_quota():
    message = _outcome("ses-sandbox", "samples/ses/sandbox-fail.json")["message"]
    assert "200 messages per 24 hours" in message


def test_reputation_message_rates():
    message = _outcome("ses-reputation", "samples/ses/reputation-fail.json")["message"]
    assert "PROBATION" in message
    assert "bounce rate 6.30%" in message


def test_reputation_complaint_threshold():
    facts = _facts("samples/ses/account-healthy.json")
    facts["ses"]["reputation"]["complaint_rate"] = 0.001
    assert evaluate_rule(SES_RULES["ses-reputation"], facts)["outcome"] == "fail"


def test_reputation_temperror():
    facts = _facts("samples/ses/account-healthy.json")
    del facts["ses"]["account"]
    facts["ses"]["reputation"] = {"status": "unknown"}
    facts["ses"]["lookups"]["get_account"] = "temperror"
    assert evaluate_rule(SES_RULES["ses-reputation"], facts)["outcome"] == "error"


def test_mail_from_fix_records():
    fix = " ".join(_outcome("ses-mail-from-not-verified", "samples/ses/identity-pending-fail.json")["fix"])
    assert "`mail.example.net MX 10 feedback-smtp.eu-west-1.amazonses.com`" in fix


def test_mail_from_reject_message():
    message = _outcome("ses-mail-from-not-verified", "samples/ses/identity-pending-fail.json")["message"]
    assert "rejects every send" in message


def test_config_message_names_fields():
    message = _outcome("ses-config-incomplete", "samples/ses/config-incomplete-fail.json")["message"]
    assert "ConfigurationSet missing or empty" in message
    assert "SecretAccessKey is not a secret access key" in message


def test_region_mismatch_fix():
    fix = " ".join(_outcome("ses-region-mismatch", "samples/ses/region-mismatch-fail.json")["fix"])
    assert "Set Region to us-east-1" in fix


def test_unverified_config_fix():
    fix = " ".join(_outcome("ses-identity-unverified", "samples/ses/config-unverified-fail.json")["fix"])
    assert "aws sesv2 create-email-identity --email-identity example.com --region eu-west-1" in fix


def test_broad_key_message():
    message = _outcome("ses-key-too-broad", "samples/ses/config-broad-key-fail.json")["message"]
    assert "iam:CreateAccessKey" in message


def test_rules_skip_header_facts():
    facts = {"source": {"path": "x.eml", "index": 0}, "input": {"kind": "headers"}}
    for rule in SES_RULES.values():
        assert evaluate_rule(rule, facts)["outcome"] == "not_applicable", rule.name


# A flag followed by nothing, a bare comma or an empty sentence shows a fact rendered as "".
EMPTY_VALUE = re.compile(r"--(region|email-identity|identity|configuration-set-name|sns-topic)\s*(--|`|\)|$)|\s[,;.](\s|$)|^\W*\.$|:\s*\.|to only")


@pytest.mark.parametrize("name", sorted(SES_RULES))
def test_explain_fix_filled(name):
    from diag.engine.docs import _fix_steps

    for step in _fix_steps(SES_RULES[name]):
        assert not EMPTY_VALUE.search(step), step


def test_dkim_fix_no_tokens():
    facts = _facts("samples/ses/identity-pending-fail.json")
    identity = facts["ses"]["identities"][0]
    identity["dkim"].update(status="NOT_STARTED", tokens=[], records=[])
    fix = " ".join(evaluate_rule(SES_RULES["ses-identity-dkim-not-verified"], facts)["fix"])
    assert f"put-email-identity-dkim-signing-attributes --email-identity {identity['name']} --signing-attributes-origin AWS_SES" in fix


def test_lookups_failed_message():
    message = _outcome("ses-lookups-failed", "samples/ses/lookups-denied-fail.json")["message"]
    assert "ListEmailIdentities denied (403)" in message


def test_broad_key_read_only_passes():
    facts = _facts("samples/ses/config-broad-key-fail.json")
    permissions = facts["ses"]["config"]["permissions"]
    permissions.update(extra_allowed=[], extra_allowed_groups=[])
    assert evaluate_rule(SES_RULES["ses-key-too-broad"], facts)["outcome"] == "pass"
