"""An in-memory Resolver for the DNS check unit tests, and tests of its own behaviour.

It answers like a recursive resolver: CNAMEs are followed for other types, a name with no
record of the type is NODATA, an unknown name is NXDOMAIN, and a CNAME loop is SERVFAIL.
"""

from diag.dns.resolver import NODATA, NXDOMAIN, OK, SERVFAIL, Answer


class MemoryResolver:
    def __init__(self, records: dict | None = None, failures: dict | None = None):
        # records: {"name": {"TXT": [...], "CNAME": ["target"], ...}}
        # failures: {("name", "TXT"): "servfail" | "timeout" | "refused"}
        self.records = {name.lower().rstrip("."): types for name, types in (records or {}).items()}
        self.failures = {(name.lower(), rdtype): status for (name, rdtype), status in (failures or {}).items()}
        self.asked: list[tuple[str, str]] = []

    def add(self, name: str, rdtype: str, *values: str) -> "MemoryResolver":
        self.records.setdefault(name.lower(), {}).setdefault(rdtype, []).extend(values)
        return self

    def query(self, name: str, rdtype: str) -> Answer:
        name = name.lower().rstrip(".")
        self.asked.append((name, rdtype))
        chain: list[str] = []
        current = name
        for _ in range(10):
            failure = self.failures.get((current, rdtype))
            if failure:
                return Answer(name, rdtype, failure, server="memory")
            types = self.records.get(current)
            if types is None:
                return Answer(name, rdtype, NXDOMAIN, cname_chain=tuple(chain), server="memory")
            if rdtype in types:
                return Answer(name, rdtype, OK, tuple(types[rdtype]), tuple(chain), ttl=300, server="memory")
            if "CNAME" in types and rdtype != "CNAME":
                current = types["CNAME"][0].lower().rstrip(".")
                if current in chain or current == name:
                    return Answer(name, rdtype, SERVFAIL, server="memory", detail="CNAME loop")
                chain.append(current)
                continue
            return Answer(name, rdtype, NODATA, cname_chain=tuple(chain), server="memory")
        return Answer(name, rdtype, SERVFAIL, server="memory", detail="CNAME chain too long")


def test_memory_nxdomain():
    assert MemoryResolver().query("x.example.com", "TXT").status == NXDOMAIN


def test_memory_nodata():
    resolver = MemoryResolver().add("example.com", "A", "192.0.2.1")
    assert resolver.query("example.com", "TXT").status == NODATA


def test_memory_follows_cname():
    resolver = MemoryResolver().add("a.example.com", "CNAME", "b.example.net").add("b.example.net", "TXT", "v=DKIM1; p=")
    answer = resolver.query("a.example.com", "TXT")
    assert answer.records == ("v=DKIM1; p=",)
    assert answer.cname_chain == ("b.example.net",)


def test_memory_cname_loop():
    resolver = MemoryResolver().add("a.example.com", "CNAME", "b.example.com").add("b.example.com", "CNAME", "a.example.com")
    assert resolver.query("a.example.com", "TXT").status == SERVFAIL
