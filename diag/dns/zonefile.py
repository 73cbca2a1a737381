"""A resolver that reads zone files and returns what an authoritative server and a recursive resolver would.

Used offline (`--zone FILE`) for demos and tests. The lookup follows RFC 1034 section 4.3.2:
a zone cut below the apex is a delegation, and an existing name without the type is NODATA.
An empty non-terminal is NODATA too (RFC 4592 section 2.2.2). A missing name may be
synthesised from a wildcard (RFC 4592 section 3.3.1) and is otherwise NXDOMAIN. A CNAME is followed through
every loaded zone, as a recursive resolver would. A name that no file covers cannot be
known offline, so it is answered `refused` (a temporary failure), never NXDOMAIN.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone

from diag.dns import resolver as status
from diag.dns.records import MAX_CNAME_HOPS, display_name, display_names, parse_name, parse_type, presentation_records
from diag.dns.resolver import Answer, Resolver
from diag.errors import InputError

log = logging.getLogger(__name__)

WILDCARD = dns.name.Name((b"*",))


@dataclass(frozen=True)
class _Lookup:
    """The outcome of a lookup in one zone: kind is answer, cname, nodata, nxdomain or delegated."""

    kind: str
    rdataset: object = None
    target: dns.name.Name | None = None


class LoadedZone:
    """One parsed zone file with the indexes the lookup needs."""

    def __init__(self, path: str, zone: dns.zone.Zone) -> None:
        self.path = path
        self.zone = zone
        self.origin: dns.name.Name = zone.origin
        self.soa = zone.get_rdataset(self.origin, dns.rdatatype.SOA)

        # Every owner name and each of its ancestors up to the apex "exists" (RFC 4592
        # section 2.2.2): an ancestor without records is an empty non-terminal.
        self.existing: set[dns.name.Name] = {self.origin}
        self.cuts: set[dns.name.Name] = set()
        for owner, node in zone.nodes.items():
            name = owner
            while name.is_subdomain(self.origin) and name not in self.existing:
                self.existing.add(name)
                if name == self.origin:
                    break
                name = name.parent()
            if owner != self.origin and node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS) is not None:
                self.cuts.add(owner)

    @property
    def negative_ttl(self) -> int | None:
        # RFC 2308 section 3: the lower of the SOA record's TTL and its MINIMUM field.
        if self.soa is None:
            return None
        return min(self.soa.ttl, self.soa[0].minimum)

    def lookup(self, qname: dns.name.Name, qtype: int) -> _Lookup:
        cut = self._zone_cut(qname)
        if cut is not None:
            return _Lookup("delegated", target=cut)

        node = self.zone.get_node(qname)
        if node is None:
            if qname in self.existing:
                return _Lookup("nodata")
            node = self._wildcard_node(qname)
            if node is None:
                return _Lookup("nxdomain")

        rdataset = node.get_rdataset(dns.rdataclass.IN, qtype)
        if rdataset is not None:
            return _Lookup("answer", rdataset=rdataset)
        if qtype != dns.rdatatype.CNAME:
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is not None:
                return _Lookup("cname", rdataset=cname, target=cname[0].target)
        return _Lookup("nodata")

    def _zone_cut(self, qname: dns.name.Name) -> dns.name.Name | None:
        """Return the highest delegation point between the apex and `qname`, if any."""
        relative = qname.relativize(self.origin)
        for depth in range(1, len(relative) + 1):
            candidate = dns.name.Name(relative.labels[-depth:]).derelativize(self.origin)
            if candidate in self.cuts:
                return candidate
        return None

    def _wildcard_node(self, qname: dns.name.Name):
        """Return the wildcard node that synthesises `qname` (RFC 4592 section 3.3.1), if any."""
        closest_encloser = qname.parent()
        while closest_encloser not in self.existing:
            closest_encloser = closest_encloser.parent()
        return self.zone.get_node(WILDCARD.concatenate(closest_encloser))


def origin_from_filename(path: str) -> str:
    file_name = Path(path).name
    if not file_name.endswith(".zone"):
        raise InputError(f"{path}: the zone file has no $ORIGIN line and its name does not end in .zone; add '$ORIGIN example.com.' at the top or rename it to example.com.zone")
    return file_name.removesuffix(".zone")


def load_zone(path: str) -> LoadedZone:
    """Parse a zone file with dnspython; the origin comes from $ORIGIN or else from the file name."""
    try:
        try:
            zone = dns.zone.from_file(path, origin=None, relativize=False, check_origin=False)
        except dns.zone.UnknownOrigin:
            zone = dns.zone.from_file(path, origin=origin_from_filename(path), relativize=False, check_origin=False)
    except OSError as error:
        raise InputError(f"{path}: cannot read the zone file ({error.strerror}); check the --zone path") from None
    except dns.exception.SyntaxError as error:
        # dnspython's message already starts with "FILE:LINE:".
        raise InputError(f"invalid zone file {error}; fix that line or leave the file out") from None
    except dns.exception.DNSException as error:
        raise InputError(f"{path}: invalid zone file ({error})") from None

    log.debug("loaded zone %s from %s (%s names)", zone.origin, path, len(zone.nodes))
    return LoadedZone(path, zone)


class ZoneResolver:
    """A resolver over the given zone files. Names that no file covers go to `fallback`, if any."""

    def __init__(self, paths: list[str], *, fallback: Resolver | None = None) -> None:
        self.fallback = fallback
        zones: dict[dns.name.Name, LoadedZone] = {}
        for path in paths:
            loaded = load_zone(path)
            if loaded.origin in zones:
                raise InputError(f"{path} and {zones[loaded.origin].path} both hold the zone {loaded.origin}; pass only one of them")
            zones[loaded.origin] = loaded
        # The deepest origin first, so a name goes to its most specific zone.
        self.zones = sorted(zones.values(), key=lambda loaded: len(loaded.origin), reverse=True)

    def zone_for(self, name: dns.name.Name) -> LoadedZone | None:
        for loaded in self.zones:
            if name.is_subdomain(loaded.origin):
                return loaded
        return None

    def query(self, name: str, rdtype: str) -> Answer:
        qname = parse_name(name)
        qtype = parse_type(rdtype)
        fields = {"name": display_name(qname), "rdtype": dns.rdatatype.to_text(qtype)}
        chain: list[dns.name.Name] = []
        ttls: list[int] = []
        current = qname

        while True:
            loaded = self.zone_for(current)
            if loaded is None:
                return self._outside_zones(current, qtype, fields, chain)
            server = f"zone:{loaded.path}"
            found = loaded.lookup(current, qtype)
            log.debug("zone %s: %s %s -> %s", loaded.origin, current, fields["rdtype"], found.kind)

            if found.kind == "answer":
                ttls.append(found.rdataset.ttl)
                return Answer(**fields, status=status.OK, records=presentation_records(found.rdataset), cname_chain=display_names(chain), ttl=min(ttls), server=server)
            if found.kind == "nxdomain":
                return Answer(**fields, status=status.NXDOMAIN, cname_chain=display_names(chain), ttl=_min_ttl(ttls, loaded.negative_ttl), server=server)
            if found.kind == "nodata":
                return Answer(**fields, status=status.NODATA, cname_chain=display_names(chain), ttl=_min_ttl(ttls, loaded.negative_ttl), server=server)
            if found.kind == "delegated":
                detail = f"{current} is delegated at {found.target} to other nameservers; add that zone's file with --zone"
                return Answer(**fields, status=status.REFUSED, cname_chain=display_names(chain), server=server, detail=detail)

            # A CNAME: restart at its target (RFC 1034 section 4.3.2 step 3a), and report a
            # loop as an error (RFC 1034 section 3.6.2) with SERVFAIL, as resolvers do.
            ttls.append(found.rdataset.ttl)
            target = found.target
            if target == qname or target in chain:
                chain.append(target)
                return Answer(**fields, status=status.SERVFAIL, cname_chain=display_names(chain), server=server, detail=f"CNAME loop at {display_name(target)}")
            chain.append(target)
            if len(chain) > MAX_CNAME_HOPS:
                return Answer(**fields, status=status.SERVFAIL, cname_chain=display_names(chain), server=server, detail=f"CNAME chain longer than {MAX_CNAME_HOPS} names")
            current = target

    def _outside_zones(self, current: dns.name.Name, qtype: int, fields: dict, chain: list) -> Answer:
        display = current.to_text(omit_final_dot=True)
        if self.fallback is None:
            detail = f"{status.OUTSIDE_ZONES} {display}; add one with --zone"
            return Answer(**fields, status=status.REFUSED, cname_chain=display_names(chain), detail=detail)

        answer = self.fallback.query(display, dns.rdatatype.to_text(qtype))
        return Answer(
            **fields,
            status=answer.status,
            records=answer.records,
            cname_chain=display_names(chain) + answer.cname_chain,
            ttl=answer.ttl,
            server=answer.server,
            detail=answer.detail,
            extra=answer.extra,
        )


def _min_ttl(ttls: list[int], negative_ttl: int | None) -> int | None:
    values = [*ttls, negative_ttl] if negative_ttl is not None else ttls
    return min(values) if values else None
