"""`maildiag ses check | config | probe`: SES account posture, application settings, probe send.

boto3 is imported inside the commands (through diag.ses.aws), never at import time, so that
registering this group does not slow down `maildiag analyze`.
"""

import io
import logging
import os
import sys

import click

from diag import exitcodes
from diag.engine.loader import SEVERITIES
from diag.errors import InputError, MaildiagError, UsageError
from diag.report import FORMATS
from diag.ses.redact import install_log_filter, redact, register_secret

log = logging.getLogger(__name__)

REGION_ENVIRONMENT = ["AWS_REGION", "AWS_DEFAULT_REGION"]
SMTP_PASSWORD_ENVIRONMENT = "MAILDIAG_SMTP_PASSWORD"


def _fail(error: MaildiagError) -> None:
    click.echo(redact(f"maildiag: error: {error}"), err=True)
    sys.exit(error.exit_code)


def _protect() -> None:
    """Mask secrets from the environment in every log line and message of this command."""
    register_secret(os.environ.get("AWS_SECRET_ACCESS_KEY"))
    register_secret(os.environ.get("AWS_SESSION_TOKEN"))
    register_secret(os.environ.get(SMTP_PASSWORD_ENVIRONMENT))
    install_log_filter()


def _ses_rules(rules_dirs: tuple[str, ...]) -> list:
    from diag.engine.loader import load_rules
    from pathlib import Path

    return [rule for rule in load_rules([Path(directory) for directory in rules_dirs]) if "ses" in rule.needs]


def _write_report(report: dict, fmt: str, output: str | None) -> None:
    """Render into memory, mask secrets, then write: a report never carries a secret."""
    from diag.report import render

    buffer = io.StringIO()
    render(report, fmt, buffer)
    text = redact(buffer.getvalue())
    if output in (None, "-"):
        sys.stdout.write(text)
        return
    try:
        with open(output, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise InputError(f"{output}: cannot write the report: {error.strerror}") from None


def _finish(command: str, documents: list[dict], rules_dirs, fmt, output, fail_on) -> None:
    from diag.engine.evaluate import evaluate
    from diag.pipeline import build_report, exit_code_for, message_report

    rules = _ses_rules(rules_dirs)
    messages = [message_report(document, evaluate(rules, document)) for document in documents]
    report = build_report(command, messages, [])
    _write_report(report, fmt, output)
    sys.exit(exit_code_for(report, fail_on))


def report_options(function):
    options = [
        click.option("-f", "--format", "fmt", type=click.Choice(list(FORMATS)), default="terminal", show_default=True, help="Report format."),
        click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of standard output."),
        click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True, help="Exit 1 when a finding has this severity or a higher one."),
        click.option("--rules", "rules_dirs", multiple=True, metavar="DIR", help="Also load rule files from DIR (repeatable)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def aws_options(function):
    options = [
        click.option("--region", envvar=REGION_ENVIRONMENT, metavar="REGION", help="AWS region, e.g. us-east-1 (default: AWS_REGION)."),
        click.option("--profile", envvar="AWS_PROFILE", metavar="NAME", help="Profile from the shared AWS config and credentials files."),
        click.option("--endpoint-url", metavar="URL", help="Send API calls to URL instead of AWS (for local test servers)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group()
def ses() -> None:
    """Check an Amazon SES account or an application's SES settings, or send a probe."""


@ses.command()
@aws_options
@report_options
def check(region, profile, endpoint_url, fmt, output, fail_on, rules_dirs):
    """Report the SES posture of one region: sandbox, identities, DKIM, MAIL FROM, reputation.

    Needs read access: ses:GetAccount, ses:ListEmailIdentities, ses:GetEmailIdentity,
    ses:ListConfigurationSets, ses:GetConfigurationSet, ses:GetConfigurationSetEventDestinations,
    ses:GetIdentityNotificationAttributes and cloudwatch:GetMetricData. A denied or failed
    call is reported (rule ses-lookups-failed) and the rest still run; the checks that need it
    end as "could not check" and the exit code is 3. Exit 2 when every SES call is denied.
    """
    _protect()
    try:
        from diag.ses import aws, facts

        context = aws.open_context(region, profile, endpoint_url)
        document = facts.region_facts(context)
        _finish("ses check", [document], rules_dirs, fmt, output, fail_on)
    except MaildiagError as error:
        _fail(error)


@ses.command("config")
@click.argument("path", required=False, metavar="[FILE]")
@click.option("--env", "from_env", is_flag=True, help="Read the settings from environment variables instead of FILE.")
@click.option("--offline", is_flag=True, help="Check only syntax and region names; make no AWS call.")
@click.option("--message", "message_path", metavar="FILE", help="Compare the region with the Feedback-ID of this received message.")
@click.option("--endpoint-url", metavar="URL", help="Send API calls to URL instead of AWS (for local test servers).")
@report_options
def config_command(path, from_env, offline, message_path, endpoint_url, fmt, output, fail_on, rules_dirs):
    """Check an application's five SES settings from a TOML or JSON FILE, or from --env.

    Settings: FromAddress, Region, AccessKeyId, SecretAccessKey, ConfigurationSet. Environment
    names: SES_FROM_ADDRESS, SES_REGION (else AWS_REGION), AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY, SES_CONFIGURATION_SET.
    """
    _protect()
    try:
        document = _config_document(path, from_env, offline, message_path, endpoint_url)
        _finish("ses config", [document], rules_dirs, fmt, output, fail_on)
    except MaildiagError as error:
        _fail(error)


def _config_document(path, from_env, offline, message_path, endpoint_url) -> dict:
    from diag.ses import aws, config, configcheck

    if bool(path) == bool(from_env):
        raise UsageError("give either a settings FILE or --env, not both and not neither")
    settings = config.load_environment() if from_env else config.load_file(path)
    facts, problems = config.check_offline(settings, aws.available_regions())
    ses: dict = {"region": facts.get("region"), "config": facts}

    # The online checks need a usable region and key pair. Problems in the other settings
    # do not stop them, so a config without a configuration set still gets its identity checked.
    blocking = sorted({problem["field"] for problem in problems} & {"Region", "AccessKeyId", "SecretAccessKey"})
    if not offline and blocking:
        facts["online"] = f"skipped: fix {', '.join(blocking)} first"
    elif not offline:
        context = aws.open_context(settings.get("Region"), endpoint_url=endpoint_url,
                                   access_key_id=settings.get("AccessKeyId"), secret_access_key=settings.get("SecretAccessKey"))
        recorder = configcheck.check_online(settings, facts, problems, context)
        facts["lookups"] = dict(recorder.outcomes)
        ses["lookups"] = dict(recorder.outcomes)
        # A send-only key is rightly denied iam:SimulatePrincipalPolicy; that is not a gap
        # to report, and permissions.status "unknown" already says so.
        ses["lookup_failures"] = [
            failure for failure in recorder.failures
            if not (failure["operation"] == "SimulatePrincipalPolicy" and failure["outcome"] == "denied")
        ]
    facts["problems"] = problems

    document = {"source": {"path": f"ses-config:{settings.source}", "index": 0}, "input": {"kind": "ses-config"}, "ses": ses}
    if message_path:
        _join_message(document, message_path)
    return document


def _join_message(document: dict, message_path: str) -> None:
    """Add the message's identities and the region comparison (ses.region_check)."""
    from diag.facts.build import build_facts
    from diag.messages.reader import read_message

    try:
        with open(message_path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise InputError(f"{message_path}: cannot read: {error.strerror}") from None
    message_facts = build_facts(read_message(data, source=message_path))
    document["identities"] = message_facts.get("identities", {})

    feedback_region = (document["identities"].get("feedback_id") or {}).get("region")
    configured = document["ses"]["config"].get("region")
    if feedback_region and configured:
        document["ses"]["region_check"] = {"configured": configured, "message": feedback_region, "matches": feedback_region == configured}
    else:
        log.info("%s: no SES Feedback-ID region to compare with", message_path)


@ses.command()
@click.option("--from", "sender", required=True, metavar="ADDRESS",
              help="Sender address, e.g. noreply@example.com. SES needs a full address to send; the address itself or its domain must be verified in the region.")
@click.option("--to", "targets", required=True, multiple=True, metavar="ADDRESS|NAME",
              help="Recipient address, or a mailbox simulator name: success, bounce, complaint, ooto, suppressionlist (+label allowed). Repeatable; one probe each, 1 per second.")
@click.option("--configuration-set", metavar="NAME", help="Send with this configuration set.")
@aws_options
@click.option("--smtp", "use_smtp", is_flag=True, help="Send through the SES SMTP interface instead of the API.")
@click.option("--smtp-host", metavar="HOST", help="SMTP host (default: email-smtp.REGION.amazonaws.com).")
@click.option("--smtp-port", type=int, default=587, show_default=True, help="SMTP port: 587 or 25 with STARTTLS, 465 with TLS.")
@click.option("--smtp-user", metavar="USER", help="SES SMTP user name; the password comes from MAILDIAG_SMTP_PASSWORD or a prompt.")
@click.option("--smtp-cafile", metavar="FILE", help="Trust the CA certificates in FILE for the SMTP server (default: the system store).")
def probe(sender, targets, configuration_set, region, profile, endpoint_url, use_smtp, smtp_host, smtp_port, smtp_user, smtp_cafile):
    """Send a text and HTML probe message and print its id and how to analyse its headers."""
    _protect()
    try:
        results = _send_probes(sender, targets, configuration_set, region, profile, endpoint_url,
                               use_smtp, smtp_host, smtp_port, smtp_user, smtp_cafile)
    except MaildiagError as error:
        _fail(error)

    for result in results:
        click.echo(redact(f"sent probe {result['token']} to {result['recipient']}" + (f", MessageId {result['message_id']}" if result["message_id"] else "")))
    if all(result["simulator"] for result in results):
        click.echo("The mailbox simulator has no inbox to read. Its bounce and complaint notifications go to the identity's SNS topics "
                   "or the configuration set's event destinations, and by email to the From or Return-Path address while feedback forwarding is on.")
    else:
        click.echo("In the receiving mailbox, open the message whose subject contains the token, show its original source "
                   "(Gmail: Show original; Outlook: View message source), save the headers to probe.txt and run: maildiag analyze probe.txt")
    sys.exit(exitcodes.OK)


def _send_probes(sender, targets, configuration_set, region, profile, endpoint_url, use_smtp, smtp_host, smtp_port, smtp_user, smtp_cafile) -> list[dict]:
    from diag.ses.config import parse_from_address
    from diag.ses.probe import resolve_recipient

    if "@" not in sender:
        raise UsageError(f"--from {sender!r} is not an address; SES needs a full address to send, e.g. --from noreply@{sender.strip() or 'example.com'} "
                         "(a verified domain covers every address in it)")
    address, problem = parse_from_address(sender)
    if problem:
        raise UsageError(f"--from {sender!r} {problem}")
    recipients = [resolve_recipient(target) for target in targets]

    if use_smtp:
        from diag.ses import smtp

        if not smtp_user:
            raise UsageError("--smtp needs --smtp-user (the SES SMTP user name)")
        if not smtp_host and not region:
            raise UsageError("--smtp needs --smtp-host or --region to pick email-smtp.REGION.amazonaws.com")
        password = os.environ.get(SMTP_PASSWORD_ENVIRONMENT) or click.prompt("SES SMTP password", hide_input=True, err=True)
        register_secret(password)
        return smtp.send(smtp_host or smtp.default_host(region), smtp_port, smtp_user, password, address, recipients,
                         configuration_set=configuration_set, cafile=smtp_cafile)

    from diag.ses import aws, sendapi

    context = aws.open_context(region, profile, endpoint_url)
    return sendapi.send(context, address, recipients, configuration_set)
