"""Choose the resolver backend from the command-line options."""

import contextlib
import logging
from collections.abc import Iterator

from diag.dns.resolver import Resolver
from diag.errors import UsageError

log = logging.getLogger(__name__)


def make_resolver(
    *,
    offline: bool,
    zones: list[str],
    nameservers: list[str],
    record: str | None,
    replay: str | None,
    timeout: float,
) -> Resolver:
    """Return the resolver for a run.

    --replay FILE          answers from the recording only
    --zone FILE            answers from zone files; other names go to live DNS unless --offline
    --offline              no zone files: every question is answered `refused`, no socket opened
    otherwise              live DNS through --nameserver, or the system's resolvers
    --record FILE          wraps the live or zone-file resolver and writes its answers on close
    """
    if replay and record:
        raise UsageError("--record and --replay do not fit together: --replay reads answers from a recording, so there is nothing new to record")
    if replay and zones:
        raise UsageError("--zone and --replay do not fit together: pass one source of DNS answers")
    if timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {timeout}")

    # Imports stay inside the branches so that an offline run loads no socket code.
    if replay:
        from diag.dns.replay import ReplayResolver

        resolver: Resolver = ReplayResolver(replay)
    elif zones:
        from diag.dns.zonefile import ZoneResolver

        fallback = None if offline else _live(nameservers, timeout)
        resolver = ZoneResolver(zones, fallback=fallback)
    elif offline:
        from diag.dns.offline import OfflineResolver

        resolver = OfflineResolver()
    else:
        resolver = _live(nameservers, timeout)

    if record:
        from diag.dns.replay import RecordingResolver

        resolver = RecordingResolver(resolver, record)
    log.debug("DNS answers come from %r", resolver)
    return resolver


def _live(nameservers: list[str], timeout: float) -> Resolver:
    from diag.dns.live import LiveResolver

    return LiveResolver(nameservers or None, timeout=timeout)


@contextlib.contextmanager
def closing(resolver: Resolver) -> Iterator[Resolver]:
    """Yield the resolver and close it afterwards, which writes a --record file."""
    try:
        yield resolver
    finally:
        close = getattr(resolver, "close", None)
        if close is not None:
            close()
