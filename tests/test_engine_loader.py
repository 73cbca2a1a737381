"""Rule file loading and validation: every field, YAML faults, uniqueness, shipped rules."""

from pathlib import Path

import pytest
import yaml

from diag.engine.loader import load_rule_file, load_rules
from diag.engine.templates import check_syntax
from diag.errors import RuleFileError
from diag.paths import data_path

REPOSITORY = Path(__file__).resolve().parent.parent


def valid_rule(**changes) -> dict:
    rule = {
        "name": "test-spf-softfail",
        "code": "XT901",
        "title": "SPF soft-failed",
        "severity": "warning",
        "confidence": "high",
        "category": "spf",
        "needs": ["headers"],
        "when": {"equals": {"path": "verdicts.spf", "value": "softfail"}},
        "message": "SPF softfail for {{ f.verdicts.spf_domain }}",
        "evidence": ["verdicts.spf"],
        "why": "The IP is not listed.",
        "fix": ["List the IP."],
        "references": [{"title": "RFC 7208", "url": "https://www.rfc-editor.org/rfc/rfc7208"}],
        "samples": {"fail": ["samples/x/fail.txt"], "pass": ["samples/x/pass.txt"]},
    }
    rule.update(changes)
    return {key: value for key, value in rule.items() if value is not None}


def write_rule(folder: Path, rule: dict, name: str | None = None) -> Path:
    path = folder / f"{name or rule.get('name', 'unnamed')}.yaml"
    path.write_text(yaml.safe_dump(rule, sort_keys=False), encoding="utf-8")
    return path


def load_error(tmp_path: Path, rule: dict) -> str:
    path = write_rule(tmp_path, rule)
    with pytest.raises(RuleFileError) as raised:
        load_rule_file(path)
    return str(raised.value).replace(f"{path}: ", "FILE: ")


def test_valid_rule_loads(tmp_path):
    rule = load_rule_file(write_rule(tmp_path, valid_rule()))
    assert rule.name == "test-spf-softfail"
    assert rule.code == "XT901"
    assert rule.needs == ("headers",)
    assert rule.samples_fail == ("samples/x/fail.txt",)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"severity": "critical"}, "FILE: field 'severity': expected one of error, warning, info, found 'critical'"),
        ({"confidence": 0.9}, "FILE: field 'confidence': expected one of high, medium, low, found 0.9"),
        ({"category": "auth"}, "FILE: field 'category': expected one of spf, dkim, dmarc, microsoft, arc, transport, content, dns, ses, found 'auth'"),
        ({"needs": ["headers", "smtp"]}, "FILE: field 'needs[1]': expected one of headers, message, dns, ses, found 'smtp'"),
        ({"needs": ["headers", "headers"]}, "FILE: field 'needs': expected each source once, found a list of 2 item(s)"),
        ({"needs": []}, "FILE: field 'needs': expected a non-empty list of strings, found a list of 0 item(s)"),
        ({"code": "md901"}, "FILE: field 'code': expected a short upper-case code such as 'MD101', found 'md901'"),
        ({"title": "two\nlines"}, "FILE: field 'title': expected a single line of text, found 'two\\nlines'"),
        ({"why": ""}, "FILE: field 'why': expected non-empty text, found ''"),
        ({"fix": "List the IP."}, "FILE: field 'fix': expected a non-empty list of strings, found 'List the IP.'"),
        ({"fix": ["ok", 3]}, "FILE: field 'fix[1]': expected non-empty text, found 3"),
        ({"evidence": ["verdicts spf"]}, "FILE: field 'evidence[0]': expected a dotted fact path of names and list indexes such as 'received.hops.0.from', found 'verdicts spf'"),
        ({"references": [{"title": "RFC 7208", "url": "http://example.com"}]}, "FILE: field 'references[0].url': expected an https:// address, found 'http://example.com'"),
        ({"references": [{"title": "RFC 7208"}]}, "FILE: field 'references[0]': expected a mapping with exactly 'title' and 'url', found a mapping with title"),
        ({"references": []}, "FILE: field 'references': expected a non-empty list of {title, url}, found a list of 0 item(s)"),
        ({"samples": {"fail": ["a.txt"]}}, "FILE: field 'samples': expected a mapping with exactly 'fail' and 'pass', each a list of file paths, found a mapping with fail"),
        ({"samples": {"fail": ["a.txt"], "pass": []}}, "FILE: field 'samples.pass': expected a non-empty list of strings, found a list of 0 item(s)"),
        ({"aliases": "old-name"}, "FILE: field 'aliases': expected a list of strings, found 'old-name'"),
        ({"applies": {"exist": "verdicts.spf"}}, "FILE: field 'applies': expected one operator of all, any, not, exists, missing, equals, in, gt, gte, lt, lte, matches, some, count, found 'exist'"),
        ({"when": None}, "FILE: field 'when': expected a value (the field is required), found nothing"),
        ({"severty": "error"}, "FILE: field 'severty': expected only the fields name, code, title, severity, confidence, category, needs, when, message, evidence, why, fix, references, samples, aliases, applies, error_when, defer_to, known_problems, found 'severty'"),
    ],
)
def test_invalid_field_message(tmp_path, changes, message):
    assert load_error(tmp_path, valid_rule(**changes)) == message


def test_name_must_match_file(tmp_path):
    path = write_rule(tmp_path, valid_rule(), name="other-name")
    with pytest.raises(RuleFileError) as raised:
        load_rule_file(path)
    assert str(raised.value) == (
        f"{path}: field 'name': expected the file name without .yaml ('other-name'), so that rules are easy to find, "
        "found 'test-spf-softfail'"
    )


def test_name_must_be_slug(tmp_path):
    path = write_rule(tmp_path, valid_rule(name="SPF_Fail"), name="SPF_Fail")
    with pytest.raises(RuleFileError) as raised:
        load_rule_file(path)
    assert str(raised.value) == f"{path}: field 'name': expected a lower-case slug such as 'dkim-fail', found 'SPF_Fail'"


def test_top_level_list_rejected(tmp_path):
    path = tmp_path / "listed.yaml"
    path.write_text("- name: listed\n", encoding="utf-8")
    with pytest.raises(RuleFileError) as raised:
        load_rule_file(path)
    assert str(raised.value) == f"{path}: field '(top level)': expected a mapping of rule fields, found a list of 1 item(s)"


def test_invalid_yaml_names_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\ntitle: [unclosed\n", encoding="utf-8")
    with pytest.raises(RuleFileError) as raised:
        load_rule_file(path)
    assert str(raised.value).startswith(f"{path}: invalid YAML: ")
    assert "line 3" in str(raised.value)


def test_duplicate_key_rejected(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("name: twice\nseverity: info\nseverity: error\n", encoding="utf-8")
    with pytest.raises(RuleFileError) as raised:
        load_rule_file(path)
    assert str(raised.value) == f"{path}: invalid YAML: the key 'severity' appears twice in one mapping (line 3)"


def test_non_utf8_rejected(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name: latin\ntitle: caf\xe9\n")
    with pytest.raises(RuleFileError) as raised:
        load_rule_file(path)
    assert str(raised.value) == f"{path}: expected UTF-8 text, found an invalid byte at offset 22"


def test_extra_dir_rules_added(tmp_path):
    write_rule(tmp_path, valid_rule())
    names = [rule.name for rule in load_rules([tmp_path])]
    assert "test-spf-softfail" in names
    assert "dkim-only-esp-signature" in names


def test_extra_dir_missing(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(RuleFileError) as raised:
        load_rules([missing])
    assert str(raised.value) == f"{missing}: rules folder not found; pass a folder that contains rule .yaml files"


def test_duplicate_code_rejected(tmp_path):
    first = tmp_path / "one"
    second = tmp_path / "two"
    first.mkdir()
    second.mkdir()
    write_rule(first, valid_rule())
    write_rule(second, valid_rule(name="test-other"))
    with pytest.raises(RuleFileError) as raised:
        load_rules([first, second])
    assert str(raised.value) == (
        f"{second / 'test-other.yaml'}: 'xt901' is already used by {first / 'test-spf-softfail.yaml'} "
        "(rule 'test-spf-softfail', code XT901); names, codes and aliases must be unique"
    )


def test_name_clash_with_shipped_rule(tmp_path):
    write_rule(tmp_path, valid_rule(name="dkim-fail"))
    with pytest.raises(RuleFileError) as raised:
        load_rules([tmp_path])
    assert "'dkim-fail' is already used by" in str(raised.value)


def test_alias_clash_with_code(tmp_path):
    write_rule(tmp_path, valid_rule(aliases=["MD101"]))
    with pytest.raises(RuleFileError) as raised:
        load_rules([tmp_path])
    assert "'md101' is already used by" in str(raised.value)


def test_shipped_rules_sorted_by_code():
    codes = [rule.code for rule in load_rules([])]
    assert codes == sorted(codes)


def test_shipped_templates_compile():
    for rule in load_rules([]):
        check_syntax(rule.message, rule.origin("message"))
        for index, step in enumerate(rule.fix):
            check_syntax(step, rule.origin(f"fix[{index}]"))


def test_shipped_samples_exist():
    for rule in load_rules([]):
        for sample in rule.samples_fail + rule.samples_pass:
            assert (REPOSITORY / sample).is_file(), f"{rule.name}: sample {sample} not found"


def test_shipped_rules_cite_sources():
    for rule in load_rules([]):
        assert rule.references, rule.name


def test_tables_folder_not_loaded_as_rules():
    assert (data_path("rules") / "tables").is_dir()
    assert all(rule.path.parent == data_path("rules") for rule in load_rules([]))


# The cache of parsed rule files (diag.engine.cache, folder "rules").


def cached_rules(tmp_path: Path, monkeypatch) -> Path:
    """Point the cache at a new folder and return a rules folder with one rule in it."""
    from diag.engine import cache

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    folder = tmp_path / "rules"
    folder.mkdir()
    write_rule(folder, valid_rule())
    return folder


def extra_rule(rules):
    return next(rule for rule in rules if rule.name == "test-spf-softfail")


def test_rule_cache_reused(tmp_path, monkeypatch):
    from diag.engine import loader

    folder = cached_rules(tmp_path, monkeypatch)
    load_rules([folder])
    assert len(list((tmp_path / "cache" / "rules").iterdir())) == 1

    monkeypatch.setattr(loader, "_read_document", lambda path: pytest.fail(f"parsed {path} again"))
    assert extra_rule(load_rules([folder])).title == "SPF soft-failed"


def test_rule_cache_sees_edit(tmp_path, monkeypatch):
    folder = cached_rules(tmp_path, monkeypatch)
    load_rules([folder])
    write_rule(folder, valid_rule(title="SPF soft-failed again"))
    assert extra_rule(load_rules([folder])).title == "SPF soft-failed again"


def test_rule_cache_one_entry_per_folder_list(tmp_path, monkeypatch):
    folder = cached_rules(tmp_path, monkeypatch)
    load_rules([folder])
    write_rule(folder, valid_rule(title="SPF soft-failed again"))
    load_rules([folder])
    assert len(list((tmp_path / "cache" / "rules").iterdir())) == 1


def test_rule_cache_ignores_shared_folder(tmp_path, monkeypatch):
    folder = cached_rules(tmp_path, monkeypatch)
    shared = tmp_path / "cache" / "rules"
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    assert extra_rule(load_rules([folder])).title == "SPF soft-failed"
    assert list(shared.iterdir()) == []


def test_rule_cache_corrupt_entry_parsed_again(tmp_path, monkeypatch):
    folder = cached_rules(tmp_path, monkeypatch)
    load_rules([folder])
    entry = next((tmp_path / "cache" / "rules").iterdir())
    entry.write_bytes(b"\x00not marshal data")
    assert extra_rule(load_rules([folder])).title == "SPF soft-failed"


def test_rule_cache_unusable_folder(tmp_path, monkeypatch):
    from diag.engine import cache

    folder = cached_rules(tmp_path, monkeypatch)
    # A file where the cache folder should be fails for root too, as a read-only home
    # fails for other users.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker / "cache"))
    assert extra_rule(load_rules([folder])).title == "SPF soft-failed"
    assert blocker.is_file()


def test_rule_cache_invalid_file_still_rejected(tmp_path, monkeypatch):
    folder = cached_rules(tmp_path, monkeypatch)
    load_rules([folder])
    (folder / "test-spf-softfail.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match="invalid YAML"):
        load_rules([folder])
