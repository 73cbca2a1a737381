"""One DNS resolver for a whole audit, shared by the worker processes.

The resolver runs in a multiprocessing manager process. Workers call it through a proxy,
and each worker keeps the answers it has received in a local cache, so a repeated question
costs no round trip. The manager serves each worker connection in its own thread, and
`SingleFlightResolver` makes concurrent questions for the same name and type wait for one
lookup. So each name and type is sent to DNS at most once per run, whatever the number of
workers.
"""

import logging
import threading
from multiprocessing.managers import BaseManager

from diag.dns.cache import AnswerCache, cache_key
from diag.dns.resolver import Answer, Resolver
from diag.errors import MaildiagError

log = logging.getLogger(__name__)


class SingleFlightResolver:
    """Wraps a resolver: one backend lookup per (name, type), however many threads ask at once."""

    def __init__(self, inner: Resolver | None, startup_error: MaildiagError | None = None) -> None:
        self.inner = inner
        # Set when the wrapped resolver could not be built (a bad --replay file, say), so the
        # parent can raise the error itself instead of a manager traceback.
        self.startup_error = startup_error
        self.cache = AnswerCache()
        self.lookups = 0
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def query(self, name: str, rdtype: str) -> Answer:
        cached = self.cache.get(name, rdtype)
        if cached is not None:
            return cached

        key = cache_key(name, rdtype)
        with self._locks_lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            # A thread that waited on the lock finds the answer of the one that held it.
            cached = self.cache.get(name, rdtype)
            if cached is not None:
                return cached
            answer = self.inner.query(name, rdtype)
            self.cache.put(name, rdtype, answer)
            self.lookups += 1
        return answer

    def error(self) -> MaildiagError | None:
        """Return the error that prevented building the wrapped resolver, or None."""
        return self.startup_error

    def lookup_count(self) -> int:
        """Return the number of questions sent to the wrapped resolver."""
        return self.lookups

    def close(self) -> None:
        """Close the wrapped resolver, which writes a --record file."""
        close = getattr(self.inner, "close", None) if self.inner is not None else None
        if close is not None:
            close()


class WorkerResolver:
    """The resolver a worker uses: a local cache in front of the shared resolver's proxy."""

    def __init__(self, shared) -> None:
        self.shared = shared
        self.cache = AnswerCache()

    def query(self, name: str, rdtype: str) -> Answer:
        cached = self.cache.get(name, rdtype)
        if cached is not None:
            return cached
        answer = self.shared.query(name, rdtype)
        self.cache.put(name, rdtype, answer)
        return answer


def _make_shared(resolver_options: dict) -> SingleFlightResolver:
    from diag.dns.factory import make_resolver

    try:
        return SingleFlightResolver(make_resolver(**resolver_options))
    except MaildiagError as error:
        return SingleFlightResolver(None, startup_error=error)


class ResolverManager(BaseManager):
    """Manager process that runs the run's SingleFlightResolver."""


ResolverManager.register("SharedResolver", callable=_make_shared, exposed=("query", "error", "lookup_count", "close"))


class SharedResolver:
    """Context manager: start the manager, build the resolver inside it, and stop both afterwards.

    `resolver_options` are the keyword arguments of diag.dns.factory.make_resolver; the
    resolver is built in the manager process because a live or recording resolver owns
    sockets and files that cannot be sent between processes.
    """

    def __init__(self, resolver_options: dict) -> None:
        self.resolver_options = resolver_options
        self.manager: ResolverManager | None = None
        self.proxy = None

    def __enter__(self):
        self.manager = ResolverManager()
        self.manager.start()
        self.proxy = self.manager.SharedResolver(self.resolver_options)
        error = self.proxy.error()
        if error is not None:
            self.manager.shutdown()
            raise error
        return self.proxy

    def __exit__(self, *exc_info) -> None:
        try:
            if self.proxy is not None:
                log.debug("shared resolver sent %d lookups", self.proxy.lookup_count())
                self.proxy.close()
        finally:
            self.manager.shutdown()
