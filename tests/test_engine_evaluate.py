"""Rule outcomes, evidence and template rendering over hand-built facts."""

from pathlib import Path

import pytest
import yaml

from diag.engine.evaluate import evaluate, evaluate_for_report, evaluate_rule, outcome_summary
from diag.engine.loader import load_rule_file
from diag.engine.templates import render
from diag.errors import RuleFileError


def make_rule(tmp_path: Path, **changes):
    rule = {
        "name": "test-delay",
        "code": "XT950",
        "title": "Slow hop",
        "severity": "info",
        "confidence": "medium",
        "category": "transport",
        "needs": ["headers"],
        "applies": {"count": {"path": "received.hops", "gte": 1}},
        "error_when": {"equals": {"path": "received.lookup", "value": "temperror"}},
        "when": {"some": {"path": "received.hops", "where": {"gt": {"path": "delay_seconds", "value": 300}}}},
        "message": "{{ item.by }} held it {{ item.delay_seconds }} s for {{ f.identities.from.domain }}",
        "evidence": ["item.raw", "received.max_delay_seconds", "received.absent"],
        "why": "Queues.",
        "fix": ["Check {{ item.by or 'the hop' }}", "{% if f.never %}hidden step{% endif %}"],
        "known_problems": "Clock skew.",
        "references": [{"title": "RFC 5321 section 4.4", "url": "https://www.rfc-editor.org/rfc/rfc5321#section-4.4"}],
        "samples": {"fail": ["f.txt"], "pass": ["p.txt"]},
    }
    rule.update(changes)
    rule = {key: value for key, value in rule.items() if value is not None}
    path = tmp_path / f"{rule['name']}.yaml"
    path.write_text(yaml.safe_dump(rule, sort_keys=False), encoding="utf-8")
    return load_rule_file(path)


def facts(**received) -> dict:
    return {
        "input": {"kind": "headers"},
        "identities": {"from": {"domain": "example.com"}},
        "received": {
            "hops": [
                {"by": "mx.example.net", "delay_seconds": 1, "raw": "from a by mx.example.net"},
                {"by": "relay.example.org", "delay_seconds": 900, "raw": "from b by relay.example.org"},
            ],
            "max_delay_seconds": 900,
            **received,
        },
    }


def test_fail_outcome_fields(tmp_path):
    outcome = evaluate_rule(make_rule(tmp_path), facts())
    assert outcome["outcome"] == "fail"
    assert outcome["name"] == "test-delay"
    assert outcome["code"] == "XT950"
    assert outcome["severity"] == "info"
    assert outcome["confidence"] == "medium"
    assert outcome["category"] == "transport"
    assert outcome["why"] == "Queues."
    assert outcome["known_problems"] == "Clock skew."
    assert outcome["references"] == [{"title": "RFC 5321 section 4.4", "url": "https://www.rfc-editor.org/rfc/rfc5321#section-4.4"}]


def test_fail_message_uses_item(tmp_path):
    outcome = evaluate_rule(make_rule(tmp_path), facts())
    assert outcome["message"] == "relay.example.org held it 900 s for example.com"


def test_fail_drops_empty_fix_steps(tmp_path):
    outcome = evaluate_rule(make_rule(tmp_path), facts())
    assert outcome["fix"] == ["Check relay.example.org"]


def test_evidence_item_path_is_real_path(tmp_path):
    outcome = evaluate_rule(make_rule(tmp_path), facts())
    assert outcome["evidence"] == [
        {"path": "received.hops.1.raw", "value": "from b by relay.example.org"},
        {"path": "received.max_delay_seconds", "value": 900},
    ]


def test_pass_outcome_has_no_message(tmp_path):
    quiet = facts()
    quiet["received"]["hops"][1]["delay_seconds"] = 20
    outcome = evaluate_rule(make_rule(tmp_path), quiet)
    assert outcome["outcome"] == "pass"
    assert "message" not in outcome
    assert outcome["fix"] == []


def test_pass_evidence_skips_item_paths(tmp_path):
    quiet = facts()
    quiet["received"]["hops"][1]["delay_seconds"] = 20
    outcome = evaluate_rule(make_rule(tmp_path), quiet)
    assert [entry["path"] for entry in outcome["evidence"]] == ["received.max_delay_seconds"]


def test_applies_false_is_not_applicable(tmp_path):
    outcome = evaluate_rule(make_rule(tmp_path), facts(hops=[]))
    assert outcome["outcome"] == "not_applicable"
    assert outcome["detail"] == "the facts this rule judges are absent: the number of items in received.hops is >= 1 does not hold"


def test_error_when_is_error(tmp_path):
    outcome = evaluate_rule(make_rule(tmp_path), facts(lookup="temperror"))
    assert outcome["outcome"] == "error"
    assert "message" not in outcome
    assert outcome["detail"] == "cannot judge because a lookup failed temporarily: received.lookup equals 'temperror'"


def test_error_when_before_applies(tmp_path):
    outcome = evaluate_rule(make_rule(tmp_path), facts(hops=[], lookup="temperror"))
    assert outcome["outcome"] == "error"


def test_needs_dns_absent_is_not_applicable(tmp_path):
    outcome = evaluate_rule(make_rule(tmp_path, needs=["headers", "dns"]), facts())
    assert outcome["outcome"] == "not_applicable"
    assert outcome["detail"] == "needs dns facts, which this input does not provide"


def test_needs_dns_present_is_judged(tmp_path):
    with_dns = facts()
    with_dns["dns"] = {}
    assert evaluate_rule(make_rule(tmp_path, needs=["dns"]), with_dns)["outcome"] == "fail"


def test_needs_message_without_body(tmp_path):
    headers_only = facts()
    headers_only["content"] = {"has_body": False}
    outcome = evaluate_rule(make_rule(tmp_path, needs=["message"]), headers_only)
    assert outcome["outcome"] == "not_applicable"


def test_needs_message_with_body(tmp_path):
    full = facts()
    full["content"] = {"has_body": True}
    assert evaluate_rule(make_rule(tmp_path, needs=["message"]), full)["outcome"] == "fail"


def test_needs_ses_absent(tmp_path):
    assert evaluate_rule(make_rule(tmp_path, needs=["ses"]), facts())["outcome"] == "not_applicable"


def test_needs_headers_without_input(tmp_path):
    dns_only = {"dns": {}, "received": facts()["received"]}
    assert evaluate_rule(make_rule(tmp_path), dns_only)["outcome"] == "not_applicable"


def test_evaluate_keeps_rule_order(tmp_path):
    first = make_rule(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    second = make_rule(other, name="test-other", code="XT951")
    assert [outcome["code"] for outcome in evaluate([second, first], facts())] == ["XT951", "XT950"]


def test_absent_value_renders_empty(tmp_path):
    rule = make_rule(tmp_path, message="[{{ f.nothing.deeper.still }}] [{{ f.nothing or 'fallback' }}]")
    assert evaluate_rule(rule, facts())["message"] == "[] [fallback]"


def test_empty_message_falls_back_to_title(tmp_path):
    rule = make_rule(tmp_path, message="{{ f.nothing }}")
    assert evaluate_rule(rule, facts())["message"] == "Slow hop"


def test_message_whitespace_collapsed(tmp_path):
    rule = make_rule(tmp_path, message="one\n  two\n\n three")
    assert evaluate_rule(rule, facts())["message"] == "one two three"


def test_no_autoescape(tmp_path):
    rule = make_rule(tmp_path, message="{{ item.raw }} <b>&</b>")
    assert evaluate_rule(rule, facts())["message"] == "from b by relay.example.org <b>&</b>"


def test_template_syntax_error_names_field(tmp_path):
    rule = make_rule(tmp_path, fix=["ok", "{% if %}"])
    with pytest.raises(RuleFileError) as raised:
        evaluate_rule(rule, facts())
    assert str(raised.value).startswith(f"{rule.path}: field 'fix[1]': expected a valid Jinja2 template, found a syntax error on line 1")


def test_plain_text_template_collapsed():
    assert render("Publish  the\n record.\n", {}, None, "t") == "Publish the record."


def test_single_brace_text_rendered():
    assert render("Use {x} and {{ f.a }}", {"a": 1}, None, "t") == "Use {x} and 1"


def test_esp_name_filter():
    assert render("{{ 'amazonses' | esp_name }}", {}, None, "t") == "Amazon SES"
    assert render("{{ 'unknownesp' | esp_name }}", {}, None, "t") == "unknownesp"


def test_docs_flag_passed():
    assert render("{% if docs %}all cases{% endif %}", {}, None, "t", docs=True) == "all cases"
    assert render("{% if docs %}all cases{% endif %}", {}, None, "t") == ""


@pytest.mark.parametrize(
    "template",
    [
        "{{ f.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ '{0.__class__}'.format(f) }}",
        "{{ f.identities.clear() }}",
        "{{ f.identities.update({'x': 1}) }}",
        "{{ f.received.hops.append(1) }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ (f|attr('__class__')) }}",
    ],
)
def test_sandbox_rejects_escape(template):
    target = facts()
    with pytest.raises(RuleFileError) as raised:
        render(template, target, None, "rules/x.yaml: field 'message'")
    assert "rules/x.yaml: field 'message': the template does something the sandbox forbids" in str(raised.value)
    assert target == facts()


def test_undefined_arithmetic_is_rule_error():
    with pytest.raises(RuleFileError) as raised:
        render("{{ f.missing + 1 }}", {}, None, "rules/x.yaml: field 'message'")
    assert "uses an absent value in an operation" in str(raised.value)


def test_template_cache_written_and_reused(tmp_path, monkeypatch):
    from diag.engine import templates

    monkeypatch.setenv(templates.CACHE_ENV, str(tmp_path))
    templates._compile.cache_clear()
    assert render("cached {{ f.x }}", {"x": 1}, None, "t") == "cached 1"
    assert len(list((tmp_path / "templates").iterdir())) == 1

    templates._compile.cache_clear()
    monkeypatch.setattr(templates._environment(), "compile", lambda source: pytest.fail("compiled again"))
    assert render("cached {{ f.x }}", {"x": 2}, None, "t") == "cached 2"
    templates._compile.cache_clear()


def test_template_cache_ignores_shared_folder(tmp_path, monkeypatch):
    from diag.engine import templates

    (tmp_path / "templates").mkdir()
    (tmp_path / "templates").chmod(0o777)
    monkeypatch.setenv(templates.CACHE_ENV, str(tmp_path))
    templates._compile.cache_clear()
    assert render("shared {{ f.x }}", {"x": 1}, None, "t") == "shared 1"
    assert list((tmp_path / "templates").iterdir()) == []
    templates._compile.cache_clear()


def test_template_cache_corrupt_entry_recompiled(tmp_path, monkeypatch):
    from diag.engine import templates

    monkeypatch.setenv(templates.CACHE_ENV, str(tmp_path))
    templates._compile.cache_clear()
    render("corrupt {{ f.x }}", {"x": 1}, None, "t")
    entry = next((tmp_path / "templates").iterdir())
    entry.write_bytes(b"\x00not marshal data")
    templates._compile.cache_clear()
    assert render("corrupt {{ f.x }}", {"x": 3}, None, "t") == "corrupt 3"
    templates._compile.cache_clear()


# evaluate_for_report: the findings and report summaries of the analyze pipeline.


def folder(tmp_path: Path, name: str) -> Path:
    """Return a new folder for one more rule file, because make_rule names files by rule name only."""
    path = tmp_path / name
    path.mkdir()
    return path


def summaries_of(outcomes):
    return [outcome_summary(outcome) for outcome in outcomes]


def test_report_summaries_match_evaluate(tmp_path):
    rules = [
        make_rule(folder(tmp_path, "fail"), name="test-fail", code="XT960"),
        make_rule(folder(tmp_path, "pass"), name="test-pass", code="XT961", when={"exists": "received.absent"}),
        make_rule(folder(tmp_path, "dns"), name="test-dns", code="XT962", needs=["dns"]),
        make_rule(folder(tmp_path, "applies"), name="test-applies", code="XT963", applies={"exists": "received.absent"}),
        make_rule(folder(tmp_path, "error"), name="test-error", code="XT964", error_when={"exists": "received.hops"}),
    ]
    document = facts()
    findings, summaries = evaluate_for_report(rules, document)
    outcomes = evaluate(rules, document)
    assert [outcome["outcome"] for outcome in outcomes] == ["fail", "pass", "not_applicable", "not_applicable", "error"]
    assert summaries == summaries_of(outcomes)
    assert findings == [outcome for outcome in outcomes if outcome["outcome"] == "fail"]


def test_report_summaries_outcome_words(tmp_path):
    rules = [make_rule(tmp_path), make_rule(folder(tmp_path, "dns"), name="test-dns", code="XT962", needs=["dns"])]
    _, summaries = evaluate_for_report(rules, facts())
    assert [summary["outcome"] for summary in summaries] == ["fail", "not_applicable"]


def test_report_summaries_follow_sources(tmp_path):
    rules = [make_rule(tmp_path, needs=["dns"])]
    _, without_dns = evaluate_for_report(rules, facts())
    _, with_dns = evaluate_for_report(rules, {**facts(), "dns": {}})
    assert without_dns[0]["outcome"] == "not_applicable"
    assert with_dns[0]["outcome"] == "fail"


def test_report_summaries_follow_list_changes(tmp_path):
    rules = [make_rule(tmp_path)]
    evaluate_for_report(rules, facts())
    other = tmp_path / "other"
    other.mkdir()
    rules.append(make_rule(other, name="test-other", code="XT951"))
    _, summaries = evaluate_for_report(rules, facts())
    assert [summary["code"] for summary in summaries] == ["XT950", "XT951"]


def test_report_summaries_read_only(tmp_path):
    rules = [make_rule(tmp_path, needs=["dns"]), make_rule(folder(tmp_path, "pass"), name="test-pass", code="XT961", when={"exists": "received.absent"})]
    _, first = evaluate_for_report(rules, facts())
    with pytest.raises(TypeError, match="read-only"):
        first[0]["outcome"] = "changed"
    with pytest.raises(TypeError, match="read-only"):
        first[1].update(outcome="changed")
    _, second = evaluate_for_report(rules, facts())
    assert second[0]["outcome"] == "not_applicable"
    assert second[1]["outcome"] == "pass"


def test_report_summary_copies_are_dicts(tmp_path):
    import copy
    import json
    import pickle

    _, summaries = evaluate_for_report([make_rule(tmp_path, needs=["dns"])], facts())
    for changed in (dict(summaries[0]), copy.copy(summaries[0]), copy.deepcopy(summaries[0]), pickle.loads(pickle.dumps(summaries[0]))):
        changed["outcome"] = "changed"
        assert changed["outcome"] == "changed"
    assert summaries[0]["outcome"] == "not_applicable"
    assert json.loads(json.dumps(summaries[0])) == dict(summaries[0])


# Renders reuse Jinja2 contexts and write dict lookups into the compiled code.


def test_template_set_not_kept_between_renders():
    template = "{% if kept is defined %}kept{% endif %}{% set kept = f.a %}{{ kept }}"
    assert render(template, {"a": "one"}, None, "t") == "one"
    assert render(template, {"a": "two"}, None, "t") == "two"


def test_template_usable_after_failed_render():
    template = "{{ f.a + 1 }}"
    with pytest.raises(RuleFileError):
        render(template, {}, None, "t")
    assert render(template, {"a": 1}, None, "t") == "2"


def test_template_lookup_of_dict_attribute_name():
    # A fact key named like a dict method still gives the method, as the sandbox does.
    assert render("{{ f.d.items is callable }} {{ f.d._p }} {{ f.d.absent.deeper }}.", {"d": {"items": 5, "_p": 1}}, None, "t") == "True 1 ."


def test_template_whitespace_collapse_all_spaces():
    spaces = [chr(code) for code in range(0x110000) if chr(code).isspace()]
    for space in spaces:
        text = f"{space}a{space}{space}b {space}"
        assert render("{{ f.t }}", {"t": text}, None, "t") == "a b"
        assert render("{{ f.t }}", {"t": f"a{space}b"}, None, "t") == "a b"


@pytest.mark.parametrize(
    "document",
    [{}, {"input": {}}, {"content": {"has_body": True}}, {"content": {"has_body": 1}}, {"content": None}, {"dns": {}}, {"verify": {}}, {"dns": None, "ses": {}}],
)
def test_available_sources_per_source(document):
    from diag.engine.evaluate import SOURCES, _available_sources, _has_source

    assert _available_sources(document) == tuple(_has_source(document, source) for source in SOURCES)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"v": {"a": "one", "b": ""}}, "[one]none||FalseFalse"),
        ({"v": {}}, "none||FalseFalse"),
        ({"v": "text"}, "none||TrueTrue"),
        ({"v": ["a"]}, "none||TrueTrue"),
        ({"v": None}, "none||FalseFalse"),
        ({}, "none||FalseFalse"),
    ],
)
def test_template_shared_paths_same_text(facts, expected):
    # Paths read twice are looked up once, and the text must be what each read would give.
    template = "{% if f.v.a %}[{{ f.v.a }}]{% endif %}{{ f.v.b or 'none' }}|{{ f.v.b }}|{{ f.v.count is defined }}{{ f.v.count is defined }}"
    assert render(template, facts, None, "t") == expected


def test_template_shared_path_of_set_name():
    template = "{% set m = f.microsoft %}{% if m.scl is number and m.scl >= 5 %}SCL {{ m.scl }}{% endif %} {{ m.cat or 'no category' }} {{ m.cat }}"
    assert render(template, {"microsoft": {"scl": 6}}, None, "t") == "SCL 6 no category"
    assert render(template, {"microsoft": "text"}, None, "t") == "no category"


def test_template_set_name_read_before_set():
    # `m` is read before its set, so its paths are not looked up early.
    template = "{{ m.a }}{{ m.a }}{% set m = f.d %}{{ m.a }}{{ m.a }}"
    assert render(template, {"d": {"a": "x"}}, None, "t") == "xx"


def test_template_shared_path_of_item():
    template = "{{ item.by }} {{ item.by }}"
    assert render(template, {}, {"by": "mx.example.net"}, "t") == "mx.example.net mx.example.net"
    assert render(template, {}, "text", "t") == ""


def test_template_shared_path_unsafe_still_rejected():
    # A forbidden attribute reached through a path read twice still fails the render.
    with pytest.raises(RuleFileError, match="sandbox forbids"):
        render("{{ item.append.x }}{{ item.append.x }}", {}, [], "t")


@pytest.mark.parametrize("control", ["\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028"])
def test_template_collapse_control_whitespace(control):
    assert render("{{ f.t }}", {"t": f"a{control}b"}, None, "t") == "a b"


def test_template_collapse_keeps_other_controls():
    assert render("{{ f.t }}", {"t": "a\x07b c"}, None, "t") == "a\x07b c"
