"""`maildiag audit`: analyse many messages in parallel and summarise them."""

import logging
import os
import sys
from contextlib import ExitStack, contextmanager, nullcontext

import click

from diag import __version__
from diag.dns.options import with_dns_source_options
from diag.errors import InputError, MaildiagError, UsageError

log = logging.getLogger(__name__)

AUDIT_FORMATS = ("terminal", "json", "jsonl", "csv", "html")
SEVERITIES = ("info", "warning", "error")


def _fail(error: MaildiagError) -> None:
    click.echo(f"maildiag: error: {error}", err=True)
    sys.exit(error.exit_code)


@click.command("audit")
@click.argument("paths", nargs=-1, metavar="PATH ...")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Worker processes [default: the number of CPUs].")
@click.option("--shard", metavar="I/N", help="Analyse only slice I of N, chosen by a hash of each message's path and index.")
@click.option("--merge", is_flag=True, help="Read PATHs as JSON Lines outputs of earlier (sharded) audits and combine them.")
@click.option("-q", "--quiet", is_flag=True, help="Show no progress bar and no input-error lines on stderr.")
@click.option("--authserv-id", metavar="ID", help="Trust only Authentication-Results from this receiver (RFC 8601 authserv-id).")
@click.option("--offline", is_flag=True, help="Use only the messages and any --zone or --replay files: no network access.")
@with_dns_source_options
@click.option("-f", "--format", "fmt", type=click.Choice(AUDIT_FORMATS), default="terminal", show_default=True, help="Report format.")
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of standard output.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True,
              help="Exit 1 when a finding has this severity or a higher one.")
@click.option("--rules", "rules_dirs", multiple=True, metavar="DIR", help="Also load rule files from DIR (repeatable).")
def audit(paths, jobs, shard, merge, quiet, authserv_id, offline, zones, nameservers, record, replay, timeout, fmt, output, fail_on, rules_dirs):
    """Analyse every message under PATH and summarise: pass rates, findings, senders, receivers.

    PATH is a message file (.eml, .txt), an Outlook .msg, an mbox, a Maildir or a folder
    (searched recursively). With -, the paths are read from standard input, one per line.
    Full messages are also verified (DKIM, ARC, SPF, DMARC) when DNS is available. Each
    name and type is looked up once per run, whatever the number of jobs.

    Exit status: 1 when a finding is at or above --fail-on; else 2 when an input could not
    be read; else 3 when a check failed temporarily; else 0.
    """
    from diag.audit.formats import make_sink, payload_of
    from diag.audit.runner import WorkerSettings
    from diag.audit.sources import Shard, read_path_list
    from diag.pipeline import REPORT_SCHEMA_VERSION

    try:
        if not paths:
            raise UsageError("no PATH given; pass message files, mbox files, Maildirs or folders, or - to read paths from standard input")
        if merge and shard:
            raise UsageError("--merge and --shard do not fit together: merge the shard outputs in one run without --shard")
        if "-" in paths:
            listed = read_path_list(sys.stdin)
            if not listed:
                raise UsageError("no paths on standard input; pipe a list of paths, one per line, or pass the paths as arguments")
            paths = tuple(path for path in paths if path != "-") + tuple(listed)
        selected = Shard.parse(shard) if shard else None
        dns_options = None
        if not (offline and not zones and not replay):
            dns_options = {"offline": offline, "zones": list(zones), "nameservers": list(nameservers),
                           "record": record, "replay": replay, "timeout": timeout}
        settings = WorkerSettings(rules_dirs=tuple(rules_dirs), authserv_id=authserv_id, offline=offline, payload=payload_of(fmt))
        if not merge:
            # Rule files are checked here, so a bad rule ends the run before any worker starts.
            from pathlib import Path

            from diag.engine.loader import load_rules

            load_rules([Path(directory) for directory in rules_dirs])
    except MaildiagError as error:
        _fail(error)

    header = {"command": "audit", "schema_version": REPORT_SCHEMA_VERSION, "tool": {"name": "maildiag", "version": __version__}}
    if selected:
        header["shard"] = str(selected)

    from diag.audit.summary import SummaryBuilder

    builder = SummaryBuilder(fail_on)
    try:
        with ExitStack() as stack:
            # The inputs are listed and the resolver started before the output is opened,
            # so that an error in either leaves no half-written report.
            results, total = _start_run(paths, merge, selected, settings, jobs, dns_options, stack)
            stream = stack.enter_context(_open_output(output, fmt))
            sink = make_sink(fmt, stream, header)
            progress = stack.enter_context(_progress(quiet))
            if progress is not None:
                progress.start(total)

            for result in results:
                if result.error is not None:
                    builder.add_error()
                    if not quiet:
                        _echo_error(progress, result.error["message"])
                elif result.skipped is not None:
                    builder.add_skipped()
                    log.info("skipped: %s", result.skipped["message"])
                else:
                    builder.add(result.record)
                sink.add(result)
                if progress is not None:
                    progress.advance()
            sink.finish(builder.summary())
    except MaildiagError as error:
        _fail(error)
    sys.exit(builder.exit_code())


def _start_run(paths, merge, shard, settings, jobs, dns_options, stack: ExitStack):
    """Return the results iterator of the run and its expected length (None when unknown).

    With --merge the results are the records of the shard files. Otherwise the inputs are
    listed and analysed by `jobs` workers (default: one per CPU, at most one per message).
    """
    if merge:
        from diag.audit.merge import merge_results

        return merge_results(paths, settings.payload), None

    from diag.audit.runner import run
    from diag.audit.sources import count_tasks, iter_tasks, list_sources

    sources = list_sources(paths)
    total = count_tasks(sources, shard)
    jobs = min(jobs or os.cpu_count() or 1, max(total, 1))
    log.info("auditing %d messages with %d worker processes", total, jobs)

    resolver = stack.enter_context(_resolver(dns_options, jobs))
    results = run(iter_tasks(sources, shard), settings, jobs, resolver)
    # Registered after the resolver, so the workers stop before the shared resolver does.
    stack.callback(results.close)
    return results, total


def _resolver(dns_options: dict | None, jobs: int):
    """Return a context manager that yields the run's resolver: None, a local one, or a shared one for workers."""
    if dns_options is None:
        return nullcontext(None)
    if jobs == 1:
        from diag.dns.factory import closing, make_resolver

        return closing(make_resolver(**dns_options))
    from diag.audit.dnsshare import SharedResolver

    return SharedResolver(dns_options)


@contextmanager
def _open_output(output: str | None, fmt: str):
    if output in (None, "-"):
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        # newline="": the csv module writes RFC 4180 CRLF line ends itself.
        stream = open(output, "w", encoding="utf-8", newline="" if fmt == "csv" else None)
    except OSError as error:
        raise InputError(f"{output}: cannot write the report: {error.strerror}") from None
    with stream:
        yield stream


def _progress(quiet: bool):
    """Return a progress bar on stderr when stderr is a terminal and --quiet is not given."""
    if quiet or not sys.stderr.isatty():
        return nullcontext(None)
    from diag.audit.progress import AuditProgress

    return AuditProgress()


def _echo_error(progress, message: str) -> None:
    from diag.report.view import clean

    if progress is not None:
        progress.echo(f"maildiag: input error: {clean(message)}")
    else:
        click.echo(f"maildiag: input error: {clean(message)}", err=True)
