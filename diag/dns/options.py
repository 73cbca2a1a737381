"""The command-line options that choose where DNS answers come from, shared by every command that queries DNS."""

import click

dns_source_options = [
    click.option("--zone", "zones", multiple=True, metavar="FILE", help="Answer from this zone file (repeatable); other names go to live DNS unless --offline is given."),
    click.option("--nameserver", "nameservers", multiple=True, metavar="IP[:PORT]", help="Ask this DNS server instead of the system's (repeatable)."),
    click.option("--record", metavar="FILE", help="Write every DNS answer to FILE for a later --replay."),
    click.option("--replay", metavar="FILE", help="Answer only from a file written by --record; send no queries."),
    click.option("--timeout", type=float, default=2.0, show_default=True, help="Seconds to wait for each DNS answer."),
]


def with_dns_source_options(function):
    """Add --zone, --nameserver, --record, --replay and --timeout to a click command."""
    for option in reversed(dns_source_options):
        function = option(function)
    return function
