"""Route the DNS questions of dkimpy and pyspf through our Resolver.

dkimpy (1.1.8) requests a key with `dnsfunc(name: bytes, timeout=)` and expects the TXT
record's text, or None when there is none. It turns every failure into "verify returned
False" plus a log line, so `KeyStore` remembers how each key lookup ended (found, NXDOMAIN,
NODATA, temporary failure) and the verifier reads the reason from there, not from dkimpy's logs.

pyspf (2.0.14) calls the module-global `spf.DNSLookup(name, qtype, strict, timeout)` from
`spf.query.dns` at call time. Swapping that global for the duration of one check would race
with other threads that run pyspf, so `bound_spf_resolver` installs one dispatcher once and
binds our Resolver to the current thread. While a resolver is bound, every pyspf lookup in
that thread goes to it, so no query reaches dnspython's system resolver.
"""

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from diag.dns import resolver as status
from diag.dns.resolver import Answer, Resolver

log = logging.getLogger(__name__)


class CachingResolver:
    """Answer each question once per run: the zone-file and replay backends do not cache.

    The live backend caches too; wrapping it costs one dictionary lookup. Verifying many
    messages from one sender repeats the same SPF and DMARC questions each time.
    """

    def __init__(self, resolver: Resolver) -> None:
        from diag.dns.cache import AnswerCache

        self.resolver = resolver
        self.cache = AnswerCache()

    def query(self, name: str, rdtype: str) -> Answer:
        answer = self.cache.get(name, rdtype)
        if answer is None:
            answer = self.resolver.query(name, rdtype)
            self.cache.put(name, rdtype, answer)
        return answer


@dataclass
class KeyRecord:
    """The outcome of one DKIM key lookup (RFC 6376 section 3.6.2.2)."""

    name: str
    status: str
    text: str | None = None
    detail: str | None = None
    record_count: int = 0
    cname_chain: tuple[str, ...] = ()

    @property
    def temporary(self) -> bool:
        return self.status in status.TEMPORARY_STATUSES


class KeyStore:
    """DKIM key records of one run, fetched once per name through the Resolver.

    `dnsfunc` is the callable dkimpy takes. Records are kept for the whole run, so verifying
    many messages signed with one key queries DNS once.
    """

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._records: dict[str, KeyRecord] = {}
        self._parsed: dict[str, object] = {}
        self._lock = threading.Lock()

    def record(self, name: str) -> KeyRecord:
        key = name.rstrip(".").lower()
        with self._lock:
            cached = self._records.get(key)
        if cached is not None:
            return cached

        answer = self.resolver.query(key, "TXT")
        found = _key_record(key, answer)
        with self._lock:
            self._records[key] = found
        return found

    def parsed(self, name: str, parse):
        """Return `parse(text)` of the key record at `name`, computed once per run.

        A `#suffix` on the name keeps the results of different parsers apart.
        """
        key = name.rstrip(".").lower()
        with self._lock:
            cached = self._parsed.get(key)
        if cached is None:
            cached = parse(self.record(key.partition("#")[0]).text)
            with self._lock:
                self._parsed[key] = cached
        return cached

    def dnsfunc(self, name, timeout=5):
        """Return the key record text for dkimpy, None when absent; raise DnsTimeoutError when temporary."""
        import dkim  # dkimpy; kept off the `analyze --offline` import path

        text_name = name.decode("ascii", errors="replace") if isinstance(name, bytes) else str(name)
        found = self.record(text_name)
        if found.temporary:
            # dkimpy catches DnsTimeoutError in verify_sig and returns False; the verifier
            # then reads `temporary` from this store and reports temperror.
            raise dkim.DnsTimeoutError(f"{found.status} for {found.name} TXT")
        if found.text is None:
            return None
        return found.text.encode("utf-8")


def _key_record(name: str, answer: Answer) -> KeyRecord:
    fields = {"name": name, "status": answer.status, "detail": answer.detail, "cname_chain": answer.cname_chain}
    if answer.status != status.OK or not answer.records:
        return KeyRecord(**{**fields, "status": status.NODATA if answer.status == status.OK else answer.status})

    # RFC 6376 section 3.6.2.2: several records at one name give undefined results. Like
    # dkimpy's own lookup, the first record is used; the count is kept for the report.
    records = sorted(answer.records)
    if len(records) > 1:
        log.info("%s has %d TXT records; using the first", name, len(records))
    return KeyRecord(**fields, text=records[0], record_count=len(records))


class DebugOnlyLogger(logging.LoggerAdapter):
    """A logger for dkimpy that records everything at debug level.

    dkimpy logs each failed check at error level; maildiag reports those failures as facts,
    so the same text on stderr would only repeat them. `-vv` still shows it.
    """

    def log(self, level, msg, *args, **kwargs):
        super().log(logging.DEBUG, msg, *args, **kwargs)


def dkimpy_logger(name: str) -> DebugOnlyLogger:
    return DebugOnlyLogger(logging.getLogger(name), {})


# --- pyspf -------------------------------------------------------------------------------

_bound = threading.local()
_install_lock = threading.Lock()
_installed = False


def _install_dispatcher(spf_module) -> None:
    """Replace spf.DNSLookup once by a function that uses the resolver bound to the thread."""
    global _installed
    with _install_lock:
        if _installed:
            return
        original = spf_module.DNSLookup

        def dispatch(name, qtype, strict=True, timeout=30):
            resolver = getattr(_bound, "resolver", None)
            if resolver is None:
                # Callers that never bound a resolver keep pyspf's own behaviour.
                return original(name, qtype, strict, timeout)
            return spf_answers(resolver, name, qtype, spf_module)

        spf_module.DNSLookup = dispatch
        _installed = True


@dataclass
class SpfLookups:
    """The state of one bound block: whether any TXT record it fetched used a macro."""

    macros: bool = False


@contextlib.contextmanager
def bound_spf_resolver(resolver: Resolver) -> Iterator[SpfLookups]:
    """Send every pyspf lookup of this thread to `resolver` until the block ends."""
    import spf  # pyspf; kept off the `analyze --offline` import path

    _install_dispatcher(spf)
    previous = getattr(_bound, "resolver", None), getattr(_bound, "lookups", None)
    _bound.resolver = resolver
    _bound.lookups = SpfLookups()
    try:
        yield _bound.lookups
    finally:
        _bound.resolver, _bound.lookups = previous


def spf_answers(resolver: Resolver, name: str, qtype: str, spf_module) -> list:
    """Answer one pyspf question in its format: [((name, qtype), value), ...].

    A temporary failure raises spf.TempError, so pyspf returns temperror (RFC 7208 section
    5.2 and 2.6.6) instead of treating the name as void. NXDOMAIN and NODATA are empty lists.
    """
    name = str(name).rstrip(".")
    answer = resolver.query(name, qtype)
    if answer.temporary:
        raise spf_module.TempError(f"DNS {answer.status} for {name} {qtype}" + (f": {answer.detail}" if answer.detail else ""))
    if answer.status != status.OK:
        return []

    key = (name, qtype)
    values = []
    for record in answer.records:
        if qtype in ("TXT", "SPF"):
            if "%{" in record and getattr(_bound, "lookups", None) is not None:
                _bound.lookups.macros = True
            # pyspf joins the character-strings itself; ours are already joined.
            values.append((key, (record.encode("utf-8"),)))
        elif qtype == "MX":
            preference, exchange = record.split(None, 1)
            values.append((key, (int(preference), exchange.rstrip("."))))
        elif qtype == "PTR":
            values.append((key, record.rstrip(".")))
        else:
            values.append((key, record))
    return values
