"""The one DNS interface every DNS fact goes through, and its answer type.

Backends (live dnspython, zone files, recorded answers) implement `Resolver.query`.
Rules never see a backend: they read the answers that the DNS fact collectors store.
"""

from dataclasses import dataclass, field
from typing import Protocol

# Answer statuses. NXDOMAIN and NODATA are final answers (RFC 2308): the name or the type
# does not exist. SERVFAIL, a timeout or a refusal are temporary and become the RFC 8601 /
# RFC 7208 result `temperror`, never "no record".
OK = "ok"
NXDOMAIN = "nxdomain"
NODATA = "nodata"
SERVFAIL = "servfail"
TIMEOUT = "timeout"
REFUSED = "refused"
TEMPORARY_STATUSES = frozenset({SERVFAIL, TIMEOUT, REFUSED})
# The start of a REFUSED answer's detail when --offline --zone was given and no zone file
# covers the name: retrying cannot help, a zone file for it can.
OUTSIDE_ZONES = "no zone file covers"


@dataclass(frozen=True)
class Answer:
    """The answer to one question, after following CNAMEs."""

    name: str
    rdtype: str
    status: str
    # Records in presentation form. A TXT record's character-strings are joined without a
    # separator, as RFC 7208 section 3.3 and RFC 6376 section 3.6.2.2 require.
    records: tuple[str, ...] = ()
    # Each CNAME target followed to reach the answer, in order.
    cname_chain: tuple[str, ...] = ()
    ttl: int | None = None
    # The server that answered, "zone:<file>" or "replay:<file>".
    server: str | None = None
    detail: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def temporary(self) -> bool:
        return self.status in TEMPORARY_STATUSES

    @property
    def exists(self) -> bool:
        return self.status == OK and bool(self.records)


class Resolver(Protocol):
    def query(self, name: str, rdtype: str) -> Answer:
        """Return the answer for `name` and `rdtype` ("TXT", "CNAME", "MX", "A", ...).

        Never raises for DNS errors: they are statuses of the Answer.
        """
        ...
