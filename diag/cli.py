"""Command-line interface: `maildiag analyze` and `maildiag rules`, plus the registration
of the dns, audit and ses commands.

Heavy libraries (boto3, dkimpy, pyspf) are imported inside the commands that need them, so
`maildiag analyze --offline` starts quickly.
"""

import logging
import sys
from pathlib import Path

import click

from diag import __version__, exitcodes
from diag.dns.options import with_dns_source_options
from diag.errors import InputError, MaildiagError
from diag.messages.files import read_file

log = logging.getLogger("diag")

FORMATS = ("terminal", "json", "html", "sarif", "junit", "markdown")
SEVERITIES = ("info", "warning", "error")
# Files that `analyze DIR` picks up; audit takes every kind of mailbox.
MESSAGE_SUFFIXES = {".eml", ".txt", ".hdr", ".msg", ".mbox"}
PASTE_PROMPT = "Paste the message headers, then press Ctrl-D on a new line (Ctrl-Z, Enter on Windows)."


def _configure_logging(verbose: int) -> None:
    levels = {0: logging.WARNING, 1: logging.INFO}
    level = levels.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, stream=sys.stderr, format="maildiag: %(levelname)s: %(name)s: %(message)s")


def _fail(error: MaildiagError) -> None:
    click.echo(f"maildiag: error: {error}", err=True)
    sys.exit(error.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="maildiag")
@click.option("-v", "--verbose", count=True, help="Log more on stderr: -v for info, -vv for debug.")
def cli(verbose: int) -> None:
    """Explain why mail fails authentication or lands in junk, and what to change."""
    _configure_logging(verbose)


def _expand_paths(paths: tuple[str, ...]) -> list[str]:
    """Return the files to read; a directory contributes its message files, recursively."""
    files = []
    for path in paths:
        if path == "-":
            files.append(path)
            continue
        candidate = Path(path)
        if candidate.is_dir():
            found = sorted(str(item) for item in candidate.rglob("*") if item.is_file() and item.suffix.lower() in MESSAGE_SUFFIXES)
            if not found:
                raise InputError(f"{path}: no message files found (looked for {', '.join(sorted(MESSAGE_SUFFIXES))}); pass a file or a folder that contains some")
            files.extend(found)
        else:
            files.append(path)
    return files


def _read_input(path: str) -> bytes:
    if path == "-":
        if sys.stdin.isatty():
            click.echo(PASTE_PROMPT, err=True)
        return sys.stdin.buffer.read()
    return read_file(path)


def _load_rules(rules_dirs: tuple[str, ...]):
    from diag.engine.loader import load_rules

    return load_rules([Path(directory) for directory in rules_dirs])


def _write_report(report: dict, fmt: str, output: str | None) -> None:
    from diag.report import render

    # `maildiag -v` also lists, one a line, the rules that did not run or did not apply.
    context = click.get_current_context(silent=True)
    show_all = bool(context and context.find_root().params.get("verbose"))
    if output in (None, "-"):
        render(report, fmt, sys.stdout, show_all=show_all)
        return
    try:
        with open(output, "w", encoding="utf-8") as stream:
            render(report, fmt, stream, show_all=show_all)
    except OSError as error:
        raise InputError(f"{output}: cannot write the report: {error.strerror}") from None


report_options = [
    click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="terminal", show_default=True, help="Report format."),
    click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of standard output."),
    click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True, help="Exit 1 when a finding has this severity or a higher one."),
    click.option("--rules", "rules_dirs", multiple=True, metavar="DIR", help="Also load rule files from DIR (repeatable)."),
]


def with_report_options(function):
    for option in reversed(report_options):
        function = option(function)
    return function


def _verify_resolver(offline, zones, nameservers, record, replay, timeout):
    """Return the resolver for verifying full messages, or None when no DNS answers are available."""
    if offline and not zones and not replay:
        return None
    from diag.dns.factory import make_resolver

    return make_resolver(offline=offline, zones=list(zones), nameservers=list(nameservers), record=record, replay=replay, timeout=timeout)


@cli.command()
@click.argument("paths", nargs=-1, metavar="[PATH ...]")
@click.option("--authserv-id", metavar="ID", help="Trust only Authentication-Results from this receiver (RFC 8601 authserv-id).")
@click.option("--offline", is_flag=True, help="Use only the message and any --zone or --replay files: no network access.")
@with_dns_source_options
@with_report_options
def analyze(paths, authserv_id, offline, zones, nameservers, record, replay, timeout, fmt, output, fail_on, rules_dirs):
    """Diagnose messages or pasted headers.

    PATH is an .eml file, a header-only text file or a folder of them. With no PATH, or
    with -, the headers are read from standard input. A full message (headers and body)
    is also verified: DKIM, ARC, SPF and DMARC are recomputed when DNS is available
    (without --offline, or with --zone or --replay).
    """
    from diag.dns.factory import closing
    from diag.pipeline import AnalyzeOptions, analyze_bytes, build_report, exit_code_for

    try:
        options = AnalyzeOptions(rules=_load_rules(rules_dirs), authserv_id=authserv_id, offline=offline)
        files = _expand_paths(paths or ("-",))
        resolver = _verify_resolver(offline, zones, nameservers, record, replay, timeout)
    except MaildiagError as error:
        _fail(error)

    messages, errors = [], []
    with closing(resolver) as resolver:
        if resolver is not None:
            from diag.verify.collect import VerifySession

            options.verify_session = VerifySession(resolver)
        for path in files:
            try:
                messages.append(analyze_bytes(_read_input(path), source=path, options=options))
            except InputError as error:
                # One bad file is reported; the others are still analysed.
                click.echo(f"maildiag: error: {error}", err=True)
                errors.append({"source": path, "message": str(error)})

    if not messages and errors and len(files) == 1:
        sys.exit(exitcodes.USAGE)
    report = build_report("analyze", messages, errors)
    try:
        _write_report(report, fmt, output)
    except MaildiagError as error:
        _fail(error)
    sys.exit(exit_code_for(report, fail_on))


@cli.group(invoke_without_command=True)
@click.option("--rules", "rules_dirs", multiple=True, metavar="DIR", help="Also load rule files from DIR (repeatable).")
@click.pass_context
def rules(context, rules_dirs):
    """List the rules, or explain one with `maildiag rules explain NAME`."""
    context.obj = rules_dirs
    if context.invoked_subcommand is None:
        context.invoke(rules_list)


@rules.command("list")
@click.pass_obj
def rules_list(rules_dirs):
    """List every rule with its code, severity and title."""
    from diag.engine.docs import print_rule_list

    try:
        print_rule_list(_load_rules(rules_dirs or ()), sys.stdout)
    except MaildiagError as error:
        _fail(error)


@rules.command("explain")
@click.argument("name")
@click.pass_obj
def rules_explain(rules_dirs, name):
    """Print the documentation of rule NAME (its name or its code)."""
    from diag.engine.docs import explain_rule

    try:
        explain_rule(_load_rules(rules_dirs or ()), name, sys.stdout)
    except MaildiagError as error:
        _fail(error)


def main() -> None:
    try:
        cli(prog_name="maildiag")
    except KeyboardInterrupt:
        click.echo("maildiag: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(exitcodes.OK)


# `maildiag ses`: registered last; the module imports boto3 only inside its commands.
from diag.ses.command import ses  # noqa: E402

cli.add_command(ses)


# `maildiag dns`: its module imports only click at load time. pyspf and the DNS checks are
# imported inside the command, so `maildiag analyze` does not pay for them at start-up.
from diag.dnscheck.command import dns_command  # noqa: E402

cli.add_command(dns_command)


# `maildiag audit`: its module loads only click and the DNS option definitions at import.
from diag.audit.command import audit  # noqa: E402

cli.add_command(audit)
