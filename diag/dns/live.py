"""Live DNS lookups with dnspython: one stub resolver per run, or one per authoritative server.

The resolver sends each query with dnspython's `dns.query.udp_with_fallback` rather than
through `dns.resolver.Resolver`, because that class hides what the checks need. It merges
REFUSED and SERVFAIL into one exception, does not count the queries it sends, and does not
follow a CNAME that an authoritative-only server leaves pointing into another zone.
"""

import ipaddress
import logging
import threading
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from diag.dns import resolver as status
from diag.dns.cache import AnswerCache
from diag.dns.records import MAX_CNAME_HOPS, display_name, display_names, parse_name, parse_type, presentation_records
from diag.dns.resolver import Answer, Resolver
from diag.errors import InputError, TemporaryFailure, UsageError

log = logging.getLogger(__name__)

# EDNS(0) UDP payload size recommended by DNS Flag Day 2020; larger answers are truncated
# and repeated over TCP (RFC 7766 section 6.2.1 requires the fallback).
EDNS_PAYLOAD = 1232


@dataclass(frozen=True)
class Nameserver:
    address: str
    port: int = 53

    def __str__(self) -> str:
        if ":" in self.address:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"


def parse_nameserver(entry: str) -> Nameserver:
    """Parse `IP`, `IP:PORT` or `[IPv6]:PORT` (a bare IPv6 address uses port 53)."""
    text = entry.strip()
    address, port = text, "53"
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise UsageError(f"invalid nameserver {entry!r}: missing ']' after the IPv6 address; expected [IPv6]:PORT")
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"invalid nameserver {entry!r}: expected IP, IP:PORT or [IPv6]:PORT")
            port = rest[1:]
    elif text.count(":") == 1:
        address, port = text.split(":")

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise UsageError(f"invalid nameserver {entry!r}: {address!r} is not an IP address; expected IP, IP:PORT or [IPv6]:PORT") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"invalid nameserver {entry!r}: port {port!r} is not a number from 1 to 65535")
    return Nameserver(str(ip), int(port))


def system_nameservers() -> list[Nameserver]:
    """Return the nameservers of the system configuration (/etc/resolv.conf on Unix)."""
    try:
        config = dns.resolver.Resolver(configure=True)
    except dns.resolver.NoResolverConfiguration as error:
        raise UsageError(f"no system DNS configuration ({error}); pass --nameserver IP") from None
    servers = [Nameserver(str(server), config.port) for server in config.nameservers]
    if not servers:
        raise UsageError("the system DNS configuration lists no nameservers; pass --nameserver IP")
    return servers


@dataclass
class _Failure:
    server: Nameserver
    status: str
    text: str


class LiveResolver:
    """A stub resolver that queries the given nameservers, or the system's when `nameservers` is None.

    Each server gets `retries` more attempts after a timeout. SERVFAIL and REFUSED move on
    to the next server without a retry. Answers are cached in `cache` for the whole run.
    """

    def __init__(
        self,
        nameservers: list[str] | None = None,
        timeout: float = 2.0,
        retries: int = 1,
        *,
        cache: AnswerCache | None = None,
        recursion_desired: bool = True,
    ) -> None:
        if nameservers is None:
            self.nameservers = system_nameservers()
        else:
            self.nameservers = [parse_nameserver(entry) for entry in nameservers]
        if not self.nameservers:
            raise UsageError("no nameservers given; pass at least one --nameserver IP")
        self.timeout = timeout
        self.retries = retries
        self.recursion_desired = recursion_desired
        self.cache = cache if cache is not None else AnswerCache()
        # DNS messages sent, UDP and TCP counted apart, so benchmarks can compare costs.
        self.queries_sent = 0
        self._count_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LiveResolver({[str(server) for server in self.nameservers]})"

    def query(self, name: str, rdtype: str) -> Answer:
        cached = self.cache.get(name, rdtype)
        if cached is not None:
            return cached
        answer = self._resolve(name, rdtype)
        self.cache.put(name, rdtype, answer)
        return answer

    def _resolve(self, name: str, rdtype: str) -> Answer:
        qname = parse_name(name)
        qtype = parse_type(rdtype)
        question_name = display_name(qname)
        type_text = dns.rdatatype.to_text(qtype)
        chain: list[dns.name.Name] = []
        cname_ttls: list[int] = []
        current = qname

        # Each pass sends one question. A CNAME that the server did not follow (it is not
        # authoritative for the target) starts the next pass at the target, as the
        # resolver algorithm in RFC 1034 section 5.3.3 step 4c does.
        while True:
            exchanged = self._exchange(current, qtype)
            if isinstance(exchanged, Answer):
                return _with_question(exchanged, question_name, type_text, chain)
            response, server, used_tcp = exchanged

            targets, rrset, loop = _follow_cnames(response, current, qtype, [qname, *chain], cname_ttls)
            chain.extend(targets)
            answer_fields = {"name": question_name, "rdtype": type_text, "cname_chain": display_names(chain), "server": str(server)}
            extra = {"transport": "tcp" if used_tcp else "udp"}
            if loop:
                # RFC 1034 section 3.6.2: CNAME loops are signalled as an error. Unbound
                # returns SERVFAIL for one (see the tests), so this is a temporary failure.
                return Answer(**answer_fields, status=status.SERVFAIL, detail=f"CNAME loop at {display_names(chain)[-1]}", extra=extra)
            if len(chain) > MAX_CNAME_HOPS:
                return Answer(**answer_fields, status=status.SERVFAIL, detail=f"CNAME chain longer than {MAX_CNAME_HOPS} names", extra=extra)

            ttl = _answer_ttl(response, rrset, cname_ttls)
            if rrset is not None:
                return Answer(**answer_fields, status=status.OK, records=presentation_records(rrset), ttl=ttl, extra=extra)

            # RFC 6604: the rcode of a response with a CNAME chain is set by the last name
            # in the chain.
            final_name = chain[-1] if chain else qname
            if response.rcode() == dns.rcode.NXDOMAIN:
                return Answer(**answer_fields, status=status.NXDOMAIN, ttl=ttl, extra=extra)
            if final_name != current and not _has_covering_soa(response, final_name):
                current = final_name
                continue
            referral = _referral_target(response)
            if referral:
                return Answer(**answer_fields, status=status.SERVFAIL, detail=f"{server} is not authoritative for {final_name} and referred to {referral}", extra=extra)
            return Answer(**answer_fields, status=status.NODATA, ttl=ttl, extra=extra)

    def _exchange(self, qname: dns.name.Name, qtype: int) -> tuple[dns.message.Message, Nameserver, bool] | Answer:
        """Send one question, retrying timed-out servers; return the response or a failed Answer."""
        failures: list[_Failure] = []
        pending = list(self.nameservers)

        for attempt in range(self.retries + 1):
            timed_out = []
            for server in pending:
                outcome = self._send(qname, qtype, server, attempt)
                if isinstance(outcome, _Failure):
                    failures.append(outcome)
                    if outcome.status == status.TIMEOUT:
                        timed_out.append(server)
                    continue
                return outcome
            pending = timed_out
            if not pending:
                break

        return _failed_answer(failures)

    def _send(self, qname: dns.name.Name, qtype: int, server: Nameserver, attempt: int) -> tuple[dns.message.Message, Nameserver, bool] | _Failure:
        query = dns.message.make_query(qname, qtype, use_edns=0, payload=EDNS_PAYLOAD)
        if not self.recursion_desired:
            query.flags &= ~dns.flags.RD
        log.debug("query %s %s to %s (attempt %s)", qname, dns.rdatatype.to_text(qtype), server, attempt + 1)
        self._count(1)

        try:
            response, used_tcp = dns.query.udp_with_fallback(query, server.address, timeout=self.timeout, port=server.port)
        except dns.exception.Timeout:
            log.debug("query %s to %s timed out after %s s", qname, server, self.timeout)
            return _Failure(server, status.TIMEOUT, f"timed out after {self.timeout:g} s")
        except OSError as error:
            # A closed TCP port or an unreachable network gives no response, so it gets
            # the same temporary status as a timeout.
            log.debug("query %s to %s failed: %s", qname, server, error)
            return _Failure(server, status.TIMEOUT, f"no response ({error.strerror or error})")
        except dns.exception.DNSException as error:
            log.debug("query %s to %s returned an invalid response: %s", qname, server, error)
            return _Failure(server, status.SERVFAIL, f"invalid response ({error})")

        # NOTE: a TCP retry that times out raises above and is not counted, so
        # queries_sent can be one short after a truncated answer followed by a TCP timeout.
        if used_tcp:
            self._count(1)
        rcode = response.rcode()
        log.debug("response %s for %s %s from %s over %s", dns.rcode.to_text(rcode), qname, dns.rdatatype.to_text(qtype), server, "TCP" if used_tcp else "UDP")
        if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return response, server, used_tcp
        if rcode == dns.rcode.REFUSED:
            return _Failure(server, status.REFUSED, "REFUSED")
        return _Failure(server, status.SERVFAIL, dns.rcode.to_text(rcode))

    def _count(self, messages: int) -> None:
        with self._count_lock:
            self.queries_sent += messages


def _follow_cnames(response, qname, qtype, seen, cname_ttls):
    """Walk the CNAMEs in the answer section from `qname`; return (targets, rrset, loop).

    The TTL of each CNAME followed is appended to `cname_ttls`.
    """
    targets = []
    visited = set(seen)
    name = qname
    while True:
        try:
            return targets, response.find_rrset(response.answer, name, dns.rdataclass.IN, qtype), False
        except KeyError:
            pass
        if qtype == dns.rdatatype.CNAME:
            return targets, None, False
        try:
            cname = response.find_rrset(response.answer, name, dns.rdataclass.IN, dns.rdatatype.CNAME)
        except KeyError:
            return targets, None, False
        cname_ttls.append(cname.ttl)
        name = cname[0].target
        targets.append(name)
        if name in visited:
            return targets, None, True
        visited.add(name)


def _has_covering_soa(response, name: dns.name.Name) -> bool:
    """Tell whether the authority section carries the SOA of a zone containing `name`.

    A negative response carries it (RFC 2308 section 2.2). An authoritative-only server that
    stops at a CNAME into a zone it does not serve sends no SOA for the target.
    """
    return any(rrset.rdtype == dns.rdatatype.SOA and name.is_subdomain(rrset.name) for rrset in response.authority)


def _referral_target(response) -> str | None:
    """Return the nameservers of a referral: NS records and no SOA in the authority section."""
    if any(rrset.rdtype == dns.rdatatype.SOA for rrset in response.authority):
        return None
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.NS:
            return ", ".join(sorted(rdata.target.to_text() for rdata in rrset))
    return None


def _answer_ttl(response, rrset, cname_ttls) -> int | None:
    """Return the minimum TTL over the answer and the CNAMEs, or the negative TTL (RFC 2308 section 3)."""
    ttls = list(cname_ttls)
    if rrset is not None:
        ttls.append(rrset.ttl)
    else:
        ttls += [min(soa.ttl, soa[0].minimum) for soa in response.authority if soa.rdtype == dns.rdatatype.SOA]
    return min(ttls) if ttls else None


def _with_question(answer: Answer, name: str, rdtype: str, chain) -> Answer:
    return Answer(name=name, rdtype=rdtype, status=answer.status, cname_chain=display_names(chain), server=answer.server, detail=answer.detail)


def _failed_answer(failures: list[_Failure]) -> Answer:
    """Summarise failed attempts: SERVFAIL outranks REFUSED, which outranks a timeout."""
    statuses = {failure.status for failure in failures}
    for candidate in (status.SERVFAIL, status.REFUSED, status.TIMEOUT):
        if candidate in statuses:
            break
    detail = "; ".join(f"{failure.server}: {failure.text}" for failure in failures)
    return Answer(name="", rdtype="", status=candidate, server=str(failures[-1].server), detail=detail)


def find_zone_apex(domain: str, bootstrap: Resolver) -> str:
    """Return the apex of the zone holding `domain`: the closest name with an SOA record."""
    labels = domain.rstrip(".").lower().split(".")
    for start in range(len(labels)):
        candidate = ".".join(labels[start:])
        answer = bootstrap.query(candidate, "SOA")
        if answer.temporary:
            raise TemporaryFailure(f"could not find the zone of {domain}: the SOA query for {candidate} failed ({answer.status}: {answer.detail})")
        # An SOA reached through a CNAME belongs to the target's zone, not to this name.
        if answer.exists and not answer.cname_chain:
            return candidate
    raise InputError(f"no zone found for {domain}: neither it nor a parent has an SOA record; check the domain name")


def authoritative_resolvers(domain: str, bootstrap: Resolver, *, port: int = 53, timeout: float = 2.0, retries: int = 1) -> list[LiveResolver]:
    """Return one resolver per address of each nameserver of `domain`'s zone.

    Each resolver queries one server without recursion, so a caller can compare the servers'
    answers and report when they disagree (a secondary that has not transferred the zone).
    `port` is the port the servers listen on: 53 except in tests.

    NOTE: these resolvers follow a CNAME into another zone by asking the same server, which
    usually answers REFUSED; compare records at names inside the zone (query CNAME itself).
    """
    apex = find_zone_apex(domain, bootstrap)
    ns_answer = bootstrap.query(apex, "NS")
    if ns_answer.temporary:
        raise TemporaryFailure(f"could not list the nameservers of {apex} ({ns_answer.status}: {ns_answer.detail})")
    if not ns_answer.exists:
        raise InputError(f"the zone {apex} has no NS records ({ns_answer.status}); check the domain name")

    resolvers = []
    for ns_name in sorted(record.rstrip(".").lower() for record in ns_answer.records):
        addresses = []
        for rdtype in ("A", "AAAA"):
            answer = bootstrap.query(ns_name, rdtype)
            if answer.temporary:
                log.warning("could not resolve nameserver %s %s: %s (%s)", ns_name, rdtype, answer.status, answer.detail)
            addresses.extend(answer.records if answer.status == status.OK else ())
        if not addresses:
            log.warning("nameserver %s of %s has no address; it is left out of the comparison", ns_name, apex)
        for address in sorted(addresses):
            server = LiveResolver([str(Nameserver(address, port))], timeout, retries, recursion_desired=False)
            server.host_name = ns_name
            server.zone = apex
            resolvers.append(server)
    return resolvers
