"""Each DNS posture rule on its own samples, checked as `maildiag dns --offline --zone` checks a domain.

A DNS rule's `fail` list, and its `pass` list, each make one sample: zone files and at most
one expectations file (docs/rules.md, "Samples of DNS rules"). The fail sample must make
the rule fail, and the pass sample must make it pass, not merely be not applicable.
"""

from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from diag.dns.factory import closing, make_resolver
from diag.dns.zonefile import load_zone
from diag.dnscheck.collect import collect_dns_facts
from diag.dnscheck.command import bind_expectations
from diag.dnscheck.expectations import load_expectations
from diag.engine.evaluate import evaluate
from diag.engine.loader import load_rules

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rules([])
ZONE_SUFFIX = ".zone"
EXPECTATIONS_SUFFIX = ".toml"
# An SES sender's records point into these zones: the SPF include amazonses.com, and the
# Easy DKIM CNAME targets that hold the keys.
SES_ZONES = ("samples/zones/amazonses.com.zone", "samples/zones/dkim.amazonses.com.zone")
# Rules whose samples one offline resolver cannot check, with the test file that covers each.
OFFLINE_IMPOSSIBLE = {
    # Compares the answers of a zone's nameservers, so it needs two servers that disagree.
    "dns-authoritative-disagree": "tests/test_dnscheck_authoritative.py",
}


def is_zone_sample(files: list[str]) -> bool:
    return bool(files) and all(Path(path).suffix in (ZONE_SUFFIX, EXPECTATIONS_SUFFIX) for path in files)


def posture_rules() -> list:
    """Return the rules on DNS answers alone, whose samples are zone files (not messages or SES facts)."""
    return [rule for rule in RULES if "dns" in rule.needs and is_zone_sample(rule.samples_fail) and is_zone_sample(rule.samples_pass)]


def sample_cases():
    for rule in posture_rules():
        if rule.name in OFFLINE_IMPOSSIBLE:
            continue
        for expected, files in (("fail", rule.samples_fail), ("pass", rule.samples_pass)):
            yield pytest.param(rule.name, tuple(files), expected, id=f"{rule.name}-{expected}")


def split_sample(files: tuple[str, ...]) -> tuple[list[str], str | None]:
    """Return (zone files, expectations file or None); raise ValueError on a malformed sample."""
    zones = [path for path in files if path.endswith(ZONE_SUFFIX)]
    expectations = [path for path in files if path.endswith(EXPECTATIONS_SUFFIX)]
    if not zones:
        raise ValueError(f"sample {list(files)} has no zone file: list the zone of the checked domain first")
    if len(expectations) > 1:
        raise ValueError(f"sample {list(files)} lists {len(expectations)} expectations files, but a sample has at most one")
    return zones, (expectations[0] if expectations else None)


def zone_origin(path: str) -> str:
    return load_zone(str(ROOT / path)).origin.to_text(omit_final_dot=True)


def outcome_of(rule_name: str, files: tuple[str, ...]) -> dict:
    """Check the sample's domain as `maildiag dns` does and return the rule's outcome."""
    zones, expectations_path = split_sample(files)

    # The domain is the expectations file's `domain`, else the origin of the first zone.
    expectations = load_expectations(ROOT / expectations_path) if expectations_path else None
    domain = expectations.domain if expectations and expectations.domain else zone_origin(zones[0])
    bound = bind_expectations(expectations, [domain], (domain,))[domain]

    # offline=True: a name that no zone covers is a temporary error, never a live query.
    paths = [str(ROOT / path) for path in dict.fromkeys([*SES_ZONES, *zones])]
    resolver = make_resolver(offline=True, zones=paths, nameservers=[], record=None, replay=None, timeout=2.0)
    with closing(resolver):
        facts = {"source": {"path": domain, "index": 0}, "dns": collect_dns_facts(resolver, domain, bound)}

    return next(outcome for outcome in evaluate(RULES, facts) if outcome["name"] == rule_name)


@pytest.mark.parametrize("rule_name, files, expected", list(sample_cases()))
def test_rule_sample(rule_name, files, expected):
    outcome = outcome_of(rule_name, files)
    assert outcome["outcome"] == expected, outcome.get("detail")


def test_every_posture_rule_has_zone_samples():
    posture = {rule.name for rule in RULES if set(rule.needs) == {"dns"}}
    checked = {case.values[0] for case in sample_cases()}
    assert posture - checked - set(OFFLINE_IMPOSSIBLE) == set()


@pytest.mark.parametrize("rule_name", sorted({rule.name for rule in posture_rules()} - set(OFFLINE_IMPOSSIBLE)))
def test_sample_well_formed(rule_name):
    rule = next(rule for rule in RULES if rule.name == rule_name)
    for files in (rule.samples_fail, rule.samples_pass):
        zones, expectations = split_sample(tuple(files))
        for path in [*zones, *([expectations] if expectations else [])]:
            assert (ROOT / path).is_file(), path


@pytest.mark.parametrize("rule_name, test_file", sorted(OFFLINE_IMPOSSIBLE.items()))
def test_offline_impossible_covered(rule_name, test_file):
    path = ROOT / test_file
    assert path.is_file(), test_file
    assert rule_name in path.read_text(encoding="utf-8")


def sample_zone_files() -> list[str]:
    files = {path for rule in posture_rules() if rule.name not in OFFLINE_IMPOSSIBLE for path in [*rule.samples_fail, *rule.samples_pass]}
    return sorted(path for path in files if path.endswith(ZONE_SUFFIX))


@pytest.mark.dns
@pytest.mark.parametrize("path", sample_zone_files())
def test_sample_zone_loads_in_knot(knot, path):
    # Knot serves every file in samples/zones under the name the file is named after, and
    # returns SERVFAIL for a zone whose file it cannot load.
    origin = zone_origin(path)
    assert Path(path).name == f"{origin}{ZONE_SUFFIX}"
    response = dns.query.udp(dns.message.make_query(origin, "SOA"), knot.host, port=knot.port, timeout=2)
    assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())
    assert response.answer, f"no SOA for {origin}"
