"""`maildiag dns`: check the DNS posture of SES sending domains, for people and CI jobs.

Exit codes: 0 nothing at or above --fail-on, 1 findings, 2 usage or input error, 3 a DNS
lookup failed temporarily and nothing failed outright.
"""

import logging
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from diag.dns.options import with_dns_source_options
from diag.errors import InputError, MaildiagError, UsageError

log = logging.getLogger(__name__)

FORMATS = ("terminal", "json", "html", "sarif", "junit", "markdown")
SEVERITIES = ("info", "warning", "error")
POLL_INTERVAL_SECONDS = 10.0
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")


def parse_duration(text: str) -> float:
    """Return seconds for `90`, `90s`, `5m` or `1h`; raise UsageError naming the value."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise UsageError(f"--wait {text!r} is not a duration; use seconds or a number with s, m or h, such as 5m")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def read_domains(arguments: tuple[str, ...]) -> list[str]:
    """Expand `@FILE` arguments (one domain a line, # comments) and normalise every domain."""
    from diag.dnscheck.names import to_ascii_domain

    domains = []
    for argument in arguments:
        if not argument.startswith("@"):
            domains.append(to_ascii_domain(argument))
            continue
        path = argument[1:]
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise InputError(f"{path}: cannot read the domain list: {error.strerror}") from None
        except UnicodeDecodeError as error:
            raise InputError(f"{path}: the domain list is not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start}); save it as UTF-8, one domain a line") from None
        for number, line in enumerate(lines, start=1):
            line = line.split("#", 1)[0].strip()
            if line:
                domains.append(to_ascii_domain(line, f"{path}:{number}"))
    if not domains:
        raise UsageError("no domain given; pass DOMAIN or @FILE with one domain a line")
    return domains


def bind_expectations(expectations, domains: list[str], arguments: tuple[str, ...]) -> dict:
    """Return the Expectations to check each domain against; raise UsageError on a mismatch.

    A file without `domain` applies to every domain. A file for one domain applies to that
    domain alone when several domains come from an @FILE list, and the others get the
    generic checks. Any other mismatch is a usage error: checking a domain without its
    expectations would let a broken zone pass a CI gate.
    """
    from dataclasses import replace

    from diag.dnscheck.expectations import Expectations

    if expectations is None:
        return {domain: Expectations() for domain in domains}
    if not expectations.domain:
        return {domain: replace(expectations, domain=domain) for domain in domains}

    others = [domain for domain in domains if domain != expectations.domain]
    if not others:
        return {domain: expectations for domain in domains}

    listed = len(domains) > 1 and any(argument.startswith("@") for argument in arguments)
    if listed and expectations.domain in domains:
        click.echo(
            f"maildiag: note: {expectations.source} describes {expectations.domain}, so it applies to that domain only; "
            f"the other {len(others)} {'domain gets' if len(others) == 1 else 'domains get'} the checks that need no expectations file",
            err=True,
        )
        return {domain: expectations if domain == expectations.domain else Expectations() for domain in domains}

    checked = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
    raise UsageError(
        f"{expectations.source} describes {expectations.domain}, but {checked} {'is' if len(others) == 1 else 'are'} checked; "
        f"pass the expectations file of {'that domain' if len(others) == 1 else 'those domains'}, or remove the domain key from "
        f"{expectations.source} to apply it to every domain"
    )


class Run:
    """The settings of one `maildiag dns` run, shared by every domain it checks."""

    def __init__(self, options: dict, rules, expectations: dict):
        self.options = options
        self.rules = rules
        # The Expectations of each domain, from bind_expectations.
        self.expectations = expectations

    def make_resolver(self):
        from diag.dns.factory import make_resolver

        return make_resolver(
            offline=self.options["offline"],
            zones=list(self.options["zones"]),
            nameservers=list(self.options["nameservers"]),
            record=self.options["record"],
            replay=self.options["replay"],
            timeout=self.options["timeout"],
        )

    def check(self, domain: str, index: int, resolver) -> dict:
        """Collect the facts of `domain`, evaluate the rules and return its report entry."""
        from diag.dnscheck.collect import collect_dns_facts
        from diag.engine.evaluate import evaluate
        from diag.pipeline import message_report

        expectations = self.expectations_for(domain)
        source = {"path": domain, "index": index}
        if not self.options["authoritative"]:
            facts = {"source": source, "dns": collect_dns_facts(resolver, domain, expectations)}
            return message_report(facts, evaluate(self.rules, facts))

        from diag.dnscheck.perserver import judge_per_server

        facts_dns, others = self.check_authoritative(domain, expectations, resolver)
        facts = {"source": source, "dns": facts_dns}
        return message_report(facts, judge_per_server(self.rules, facts, others, evaluate))

    def expectations_for(self, domain: str):
        from diag.dnscheck.expectations import Expectations

        return self.expectations.get(domain) or Expectations(domain=domain)

    def check_authoritative(self, domain: str, expectations, bootstrap) -> tuple[dict, list]:
        """Collect the facts from each of the zone's own nameservers and compare their answers."""
        from diag.dnscheck.authoritative import check_authoritative

        return check_authoritative(domain, expectations, bootstrap, port=self.options["authoritative_port"], timeout=self.options["timeout"])

    def check_all(self, domains: list[str]) -> list[dict]:
        """Check every domain, `--jobs` at a time; one resolver (and its cache) per run.

        The threads overlap time spent waiting for DNS replies. Parsing and rule evaluation
        hold the GIL, so checks that read zone files, a recording or a loopback server gain
        little or nothing from more jobs (docs/benchmarks.md has the measurements).
        """
        from diag.dns.factory import closing

        with closing(self.make_resolver()) as resolver:
            if self.options["jobs"] <= 1 or len(domains) == 1:
                return [self.check(domain, index, resolver) for index, domain in enumerate(domains)]
            with ThreadPoolExecutor(max_workers=self.options["jobs"]) as pool:
                futures = [pool.submit(self.check, domain, index, resolver) for index, domain in enumerate(domains)]
                return [future.result() for future in futures]


def _pending(messages: list[dict], fail_on: str) -> tuple[list[str], list[str]]:
    """Return (failing, not run): findings at or above `fail_on`, and rules a lookup failure stopped.

    Both keep a --wait loop going, but only the first are problems found in the records.
    """
    from diag.pipeline import SEVERITY_ORDER

    threshold = SEVERITY_ORDER[fail_on]
    failing, not_run = [], []
    for message in messages:
        for outcome in message["outcomes"]:
            name = f"{message['source']['path']}:{outcome['name']}"
            if outcome["outcome"] == "fail" and SEVERITY_ORDER[outcome["severity"]] >= threshold:
                failing.append(name)
            elif outcome["outcome"] == "error":
                not_run.append(name)
    return failing, not_run


def _names(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def progress_line(attempt: int, messages: list[dict], failing: list[str], not_run: list[str]) -> str:
    """Return the --wait progress line: failing checks, and checks a DNS failure stopped, apart."""
    from diag.report.dnsview import failed_lookups

    parts = []
    if failing:
        parts.append(f"{len(failing)} still failing ({_names(failing)})")
    if not_run:
        statuses = sorted({lookup["status"] for message in messages for lookup in failed_lookups(message.get("dns") or {})})
        cause = f"DNS {', '.join(status.upper() if status != 'timeout' else status for status in statuses)}" if statuses else "a lookup failed temporarily"
        parts.append(f"{len(not_run)} {'check' if len(not_run) == 1 else 'checks'} could not run ({cause})")
    return f"maildiag: check {attempt}: {'; '.join(parts)}"


def wait_for_expectations(run: Run, domains: list[str], seconds: float, fail_on: str) -> list[dict]:
    """Poll until no finding at or above `fail_on` and no lookup failure remains, or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    attempt = 1
    while True:
        messages = run.check_all(domains)
        failing, not_run = _pending(messages, fail_on)
        remaining = deadline - time.monotonic()
        if not (failing or not_run) or remaining <= 0:
            return messages
        pause = min(POLL_INTERVAL_SECONDS, remaining)
        click.echo(f"{progress_line(attempt, messages, failing, not_run)}; next check in {pause:.0f} s, {remaining:.0f} s left", err=True)
        time.sleep(pause)
        attempt += 1


def _split_nameservers(entries: tuple[str, ...]) -> int:
    """Return the port of the first --nameserver entry (53 if none), for --authoritative."""
    from diag.dns.live import parse_nameserver

    return parse_nameserver(entries[0]).port if entries else 53


@click.command("dns")
@click.argument("domains", nargs=-1, metavar="DOMAIN... | @FILE")
@click.option("--expect", "expect_file", metavar="FILE", help="Read the expected records (SES region, Easy DKIM tokens or selectors, MAIL FROM domain, minimum DMARC policy, SPF includes) from FILE: TOML, or a pyproject.toml with a [tool.maildiag] table.")
@click.option("--offline", is_flag=True, help="Answer only from the --zone or --replay files and send no DNS query. A name that no zone file covers is a temporary error (exit 3).")
@with_dns_source_options
@click.option("--authoritative", is_flag=True, help="Ask the domain's own nameservers directly and report where they disagree. The port of the first --nameserver, if given, is used for them.")
@click.option("--wait", "wait", metavar="DURATION", help="Repeat the checks, 10 s apart, until nothing fails at or above --fail-on or DURATION has passed: seconds, or a number with s, m or h (90s, 5m).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Number of domains checked at once, each in its own thread. Helps when DNS replies take network round trips; with --zone, --replay or a resolver on this machine the checks are CPU-bound and more jobs do not speed them up.")
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="terminal", show_default=True, help="Report format.")
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of standard output.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True, help="Exit 1 when a finding has this severity or a higher one.")
@click.option("--rules", "rules_dirs", multiple=True, metavar="DIR", help="Also load rule files from DIR (repeatable).")
def dns_command(domains, expect_file, offline, zones, nameservers, record, replay, timeout, authoritative, wait, jobs, fmt, output, fail_on, rules_dirs):
    """Check the SPF, DMARC, Easy DKIM and MAIL FROM records of DOMAIN for Amazon SES.

    DOMAIN may be repeated, or given as @FILE with one domain a line. Exit codes: 0 pass,
    1 findings at or above --fail-on, 2 usage error, 3 DNS failed temporarily.
    """
    from diag.cli import _load_rules, _write_report
    from diag.dnscheck.expectations import load_expectations
    from diag.pipeline import build_report, exit_code_for

    try:
        if authoritative and (zones or replay or offline):
            raise UsageError("--authoritative asks live nameservers; it does not fit with --zone, --replay or --offline")
        if offline and not (zones or replay):
            raise UsageError("--offline needs DNS answers from files: add --zone FILE or --replay FILE")
        expectations = load_expectations(expect_file) if expect_file else None
        if not domains and expectations and expectations.domain:
            domains = (expectations.domain,)
        domain_list = read_domains(domains)
        options = {
            "offline": offline, "zones": zones, "nameservers": nameservers, "record": record, "replay": replay,
            "timeout": timeout, "authoritative": authoritative, "jobs": jobs,
            "authoritative_port": _split_nameservers(nameservers) if authoritative else 53,
        }
        run = Run(options, _load_rules(rules_dirs), bind_expectations(expectations, domain_list, domains))
        if wait:
            messages = wait_for_expectations(run, domain_list, parse_duration(wait), fail_on)
        else:
            messages = run.check_all(domain_list)
        report = build_report("dns", messages, [])
        _write_report(report, fmt, output)
    except MaildiagError as error:
        click.echo(f"maildiag: error: {error}", err=True)
        sys.exit(error.exit_code)
    sys.exit(exit_code_for(report, fail_on))

