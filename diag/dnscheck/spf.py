"""SPF record posture (RFC 7208): one record, valid terms, lookup limits, the expanded tree.

Why not checkdmarc here: checkdmarc.spf (6.0.4) queries DNS itself through dnspython. It
cannot read our zone-file or replay backends, its `exp=` check ignores a supplied resolver
and asks the system resolver, it stops at the first limit it crosses (so the tree a
report needs is lost), and it reports a SERVFAIL at an include as a missing record. So the
tree is walked here over our Resolver, and pyspf (a field library) validates each
mechanism's syntax offline.

The walk is static: every term is expanded, as a receiver does for a connecting IP that
matches nothing (the worst case, and the case of a spoofer). The lookup counts are
therefore the maximum a receiver can reach.
"""

import functools
import logging
import re
from dataclasses import dataclass, field

from diag.dns.resolver import NODATA, NXDOMAIN, OK
from diag.dnscheck.evidence import evidence
from diag.dnscheck.spflookups import MAX_DNS_LOOKUPS, MAX_VOID_LOOKUPS, lookup_advice, lookup_terms, void_terms
from diag.dnscheck.spfmerge import merge_records

log = logging.getLogger(__name__)
# RFC 7208 section 4.6.4: an mx mechanism may not look up more than 10 exchange addresses.
MAX_MX_NAMES = 10
LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
# Amazon SES publishes and changes its sending ranges behind this include, so it is never
# suggested for flattening into ip4: terms.
SES_INCLUDE = "amazonses.com"
# Guard against runaway expansion of pathological records; loops are detected separately.
MAX_RECORDS_WALKED = 60

# RFC 7208 section 12: modifier = name "=" macro-string, name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
_MODIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*)=(.*)$")


def is_spf_record(text: str) -> bool:
    """Tell whether a TXT string is an SPF record (RFC 7208 section 4.5).

    The version is `v=spf1` followed by a space or the end; ABNF literals are
    case-insensitive (RFC 5234 section 2.3), so `V=SPF1` counts too.
    """
    lowered = text.lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def spf_records(records: tuple[str, ...] | list[str]) -> list[str]:
    return [record for record in records if is_spf_record(record)]


def split_terms(record: str) -> tuple[list[str], list[str]]:
    """Split a record into terms after the version; return (terms, syntax errors).

    RFC 7208 section 12: `record = version terms *SP` and `terms = *( 1*SP ( directive /
    modifier ) )`, so terms are separated by one or more spaces (doubled spaces are valid)
    and any other white space, such as a tab, is not a separator.
    """
    errors = []
    parts = [part for part in record.split(" ") if part]
    for part in parts:
        if any(character.isspace() for character in part):
            errors.append(f"term {part!r} contains white space other than a space (RFC 7208 section 12 separates terms with spaces only)")
    return parts[1:], errors


class _NoDNSError(RuntimeError):
    pass


@functools.cache
def _offline_query_class():
    """Return a pyspf query class that may parse terms but never sends a DNS query.

    It is built once per process, because defining the class for every SPF walk took about
    0.2 ms a walk (timeit, on the machine of docs/benchmarks.md).
    """
    import spf  # pyspf; imported here to keep it off the `maildiag analyze` start-up path

    class OfflineQuery(spf.query):
        # pyspf expands the %{p} macro by querying PTR records; our checks must send every
        # query through our Resolver, so pyspf is never allowed to ask DNS itself.
        def dns(self, *args, **kwargs):
            raise _NoDNSError("pyspf attempted a DNS query")

    return OfflineQuery, spf.PermError


def _offline_query():
    """Return a new offline pyspf query and pyspf's PermError.

    Each walk gets its own query, because pyspf notes errors on the object and --jobs runs
    walks in several threads.
    """
    query_class, perm_error = _offline_query_class()
    return query_class(i="192.0.2.1", s="postmaster@example.com", h="example.com", strict=True), perm_error


@dataclass
class Term:
    raw: str
    qualifier: str = "+"
    mechanism: str | None = None
    modifier: str | None = None
    target: str | None = None
    has_macro: bool = False
    error: str | None = None

    def as_fact(self) -> dict:
        fact = {"term": self.raw}
        if self.mechanism:
            fact["mechanism"] = self.mechanism
            fact["qualifier"] = QUALIFIERS[self.qualifier]
        if self.modifier:
            fact["modifier"] = self.modifier
        if self.target:
            fact["target"] = self.target
        if self.has_macro:
            fact["macro"] = True
        if self.error:
            fact["error"] = self.error
        return fact


def parse_term(raw: str, domain: str, query=None) -> Term:
    """Parse one term; syntax errors are stored on the Term, never raised."""
    if query is None:
        query = _offline_query()
    offline, perm_error = query
    term = Term(raw=raw, has_macro="%" in raw)

    modifier = _MODIFIER.match(raw)
    if modifier and ":" not in modifier.group(1):
        term.modifier = modifier.group(1).lower()
        term.target = modifier.group(2)
        if term.modifier in ("redirect", "exp") and not term.target:
            term.error = f"{term.modifier}= needs a domain (RFC 7208 section 6)"
        return term

    if raw[0] in QUALIFIERS:
        term.qualifier = raw[0]
    try:
        # pyspf expands macros against a placeholder sender; the expanded target is only
        # used when the term has no macro.
        _, mechanism, argument, _, _ = offline.validate_mechanism(raw.replace("%{p}", "%{d}"))
    except perm_error as error:
        term.error = _pyspf_message(error)
        return term
    except _NoDNSError:
        term.error = "the term needs a DNS query to parse"
        return term

    term.mechanism = mechanism
    explicit_target = ":" in raw.split("/", 1)[0]
    if mechanism in ("include", "exists", "ip4", "ip6") or (mechanism in ("a", "mx", "ptr") and explicit_target):
        term.target = raw.split(":", 1)[1] if term.has_macro else argument
        if mechanism in ("include", "a", "mx", "ptr", "exists") and not term.has_macro:
            term.target = term.target.rstrip(".").lower()
    elif mechanism in ("a", "mx", "ptr"):
        term.target = domain
    return term


def _pyspf_message(error: Exception) -> str:
    """Return pyspf's PermError text with its misspelling of "mechanisms" corrected (pyspf 2.0.14)."""
    return str(error).replace("mechnisms", "mechanisms")


@dataclass
class Walk:
    """State shared by every record in one evaluation: RFC 7208 section 4.6.4 counts it as one."""

    resolver: object
    query: tuple = field(default_factory=_offline_query)
    dns_lookups: int = 0
    void_lookups: int = 0
    records_walked: int = 0
    loops: list = field(default_factory=list)
    missing_targets: list = field(default_factory=list)
    temperrors: list = field(default_factory=list)
    syntax_errors: list = field(default_factory=list)
    includes: set = field(default_factory=set)
    mx_over_limit: list = field(default_factory=list)
    ptr_terms: list = field(default_factory=list)

    def void(self, answer) -> bool:
        if answer.status in (NXDOMAIN, NODATA) or (answer.status == OK and not answer.records):
            self.void_lookups += 1
            return True
        return False


def fetch(resolver, domain: str) -> dict:
    """Query TXT at `domain` and select the SPF records; return the lookup as a fact."""
    answer = resolver.query(domain, "TXT")
    found = spf_records(answer.records) if answer.status == OK else []
    if answer.temporary:
        status = "temperror"
    elif not found:
        status = "none"
    elif len(found) > 1:
        # RFC 7208 section 4.5: more than one record is a permanent error.
        status = "permerror"
    else:
        status = "ok"
    return {"answer": answer, "query": evidence(answer), "records": found, "status": status}


def walk_record(walk: Walk, domain: str, stack: tuple[str, ...], via: str) -> dict:
    """Look up and expand the SPF record at `domain`; return its node of the tree."""
    lookup = fetch(walk.resolver, domain)
    node = {"domain": domain, "via": via, "query": lookup["query"], "status": lookup["status"], "records": lookup["records"]}
    walk.records_walked += 1

    if lookup["status"] == "temperror":
        walk.temperrors.append(lookup["query"])
        return node
    if lookup["status"] != "ok":
        return node

    record = lookup["records"][0]
    node["record"] = record
    node["terms"], node["errors"] = expand_record(walk, record, domain, stack + (domain,))
    return node


def expand_record(walk: Walk, record: str, domain: str, stack: tuple[str, ...]) -> tuple[list, list]:
    """Parse `record` and follow each DNS-querying term; return (term facts, syntax errors)."""
    raw_terms, errors = split_terms(record)
    terms = [parse_term(raw, domain, walk.query) for raw in raw_terms]
    errors += [f"{term.raw}: {term.error}" for term in terms if term.error]

    modifiers = [term.modifier for term in terms if term.modifier in ("redirect", "exp")]
    for name in ("redirect", "exp"):
        if modifiers.count(name) > 1:
            errors.append(f"{name}= appears {modifiers.count(name)} times; RFC 7208 section 6 allows it once")
    for error in errors:
        walk.syntax_errors.append({"domain": domain, "error": error})

    facts = []
    has_all = any(term.mechanism == "all" for term in terms)
    for term in terms:
        fact = term.as_fact()
        facts.append(fact)
        if term.error:
            continue
        if term.mechanism in LOOKUP_MECHANISMS:
            follow_mechanism(walk, term, fact, stack)
        elif term.modifier == "redirect":
            # RFC 7208 section 6.1: redirect is ignored when the record has an all mechanism.
            if has_all:
                fact["ignored"] = "the record has an all mechanism (RFC 7208 section 6.1)"
                continue
            follow_redirect(walk, term, fact, stack)
    return facts, errors


def follow_mechanism(walk: Walk, term: Term, fact: dict, stack: tuple[str, ...]) -> None:
    walk.dns_lookups += 1
    fact["lookups"] = 1
    if term.has_macro:
        # A macro target depends on the sender and IP of each message, so it cannot be
        # queried ahead of time; the term still counts toward the limit.
        fact["note"] = "target contains a macro and is expanded per message"
        return

    if term.mechanism == "include":
        walk.includes.add(term.target)
        follow_include(walk, term, fact, stack)
    elif term.mechanism == "a" or term.mechanism == "exists":
        # NOTE: only the A query is made. SES sends over IPv4, and a receiver evaluating an
        # IPv4 connection asks for A records; an IPv6 connection would ask for AAAA instead.
        answer = walk.resolver.query(term.target, "A")
        fact["query"] = evidence(answer)
        if answer.temporary:
            walk.temperrors.append(fact["query"])
        elif walk.void(answer):
            fact["void"] = True
    elif term.mechanism == "mx":
        answer = walk.resolver.query(term.target, "MX")
        fact["query"] = evidence(answer)
        if answer.temporary:
            walk.temperrors.append(fact["query"])
        elif walk.void(answer):
            fact["void"] = True
        else:
            # Each MX host costs one address lookup, outside the limit of 10 terms but
            # limited to 10 per mx term itself (RFC 7208 section 4.6.4).
            fact["address_lookups"] = min(len(answer.records), MAX_MX_NAMES)
            if len(answer.records) > MAX_MX_NAMES:
                walk.mx_over_limit.append({"term": term.raw, "mx_count": len(answer.records)})
    elif term.mechanism == "ptr":
        # RFC 7208 section 5.5: ptr SHOULD NOT be used; its queries depend on the client IP.
        walk.ptr_terms.append(term.raw)


def follow_include(walk: Walk, term: Term, fact: dict, stack: tuple[str, ...]) -> None:
    if term.target in stack:
        walk.loops.append(" -> ".join(stack + (term.target,)))
        fact["loop"] = True
        return
    if walk.records_walked >= MAX_RECORDS_WALKED:
        fact["note"] = f"not expanded: more than {MAX_RECORDS_WALKED} records in the tree"
        return

    child = walk_record(walk, term.target, stack, "include")
    fact["child"] = child
    if child["status"] in ("none",):
        # RFC 7208 section 5.2: an include whose target has no SPF record is a permerror.
        if child["query"]["status"] in (NXDOMAIN, NODATA):
            walk.void_lookups += 1
            fact["void"] = True
        walk.missing_targets.append({"term": term.raw, "domain": term.target, "status": child["query"]["status"]})
    elif child["status"] == "permerror" and len(child["records"]) > 1:
        walk.missing_targets.append({"term": term.raw, "domain": term.target, "status": "multiple records"})


def follow_redirect(walk: Walk, term: Term, fact: dict, stack: tuple[str, ...]) -> None:
    walk.dns_lookups += 1
    fact["lookups"] = 1
    if term.has_macro:
        fact["note"] = "target contains a macro and is expanded per message"
        return
    target = term.target.rstrip(".").lower()
    if target in stack:
        walk.loops.append(" -> ".join(stack + (target,)))
        fact["loop"] = True
        return

    child = walk_record(walk, target, stack, "redirect")
    fact["child"] = child
    if child["status"] == "none":
        # RFC 7208 section 6.1: a redirect target without an SPF record is a permerror.
        if child["query"]["status"] in (NXDOMAIN, NODATA):
            walk.void_lookups += 1
            fact["void"] = True
        walk.missing_targets.append({"term": term.raw, "domain": target, "status": child["query"]["status"]})


def all_result(terms: list[dict]) -> tuple[str | None, str | None]:
    """Return (result, term) of the record's all mechanism, or (None, None) when absent."""
    for term in terms:
        if term.get("mechanism") == "all":
            return term["qualifier"], term["term"]
    return None, None


def with_include(record: str, include: str) -> str:
    """Return `record` with `include:<include>` added before its all term or redirect.

    RFC 7208 section 4.5 allows one record, so an existing record gains the include
    instead of a second record being published next to it.
    """
    parts = [part for part in record.split(" ") if part]
    new_term = f"include:{include}"
    for index, part in enumerate(parts[1:], start=1):
        lowered = part.lower()
        if lowered.lstrip("+-~?") == "all" or lowered.startswith("redirect="):
            return " ".join(parts[:index] + [new_term] + parts[index:])
    return " ".join(parts + [new_term])


def suggest_merged(resolver, domain: str, records: list[str], required_includes: tuple[str, ...]) -> dict:
    """Return the facts of the one record to publish in place of `records`.

    The merged record is walked like a published one, so the report can state whether it
    stays within the RFC 7208 section 4.6.4 limits before anyone publishes it.
    """
    merged = merge_records(records)
    record = merged.record
    notes = list(merged.notes)
    for include in required_includes:
        if f"include:{include}" not in record.lower():
            record = with_include(record, include)
            notes.append(f"include:{include} is added, because SES sends for {domain}.")

    walk = Walk(resolver=resolver)
    expand_record(walk, record, domain, (domain,))
    if walk.temperrors:
        notes.append("A lookup in the merged record's include tree failed temporarily, so its lookup count is unknown; check again later.")
    elif walk.dns_lookups > MAX_DNS_LOOKUPS or walk.void_lookups > MAX_VOID_LOOKUPS:
        notes.append(
            f"The merged record needs {walk.dns_lookups} DNS lookups (limit {MAX_DNS_LOOKUPS}) and {walk.void_lookups} void lookups "
            f"(limit {MAX_VOID_LOOKUPS}), so receivers would return permerror for it too: remove or flatten terms before publishing it."
        )
    else:
        notes.append(f"The merged record needs {walk.dns_lookups} of the {MAX_DNS_LOOKUPS} DNS lookups allowed.")
    return {
        "suggested_record": record,
        "suggested_all": merged.all_term,
        "suggested_lookups": walk.dns_lookups,
        "suggested_void_lookups": walk.void_lookups,
        "merge_notes": notes,
    }


def check_spf(resolver, domain: str, role: str, required_includes: tuple[str, ...] = ()) -> dict:
    """Check the SPF record at `domain` and return its fact for `dns.spf`.

    `role` is `from` or `mail_from`; `required_includes` are the include targets that must
    appear somewhere in the tree (amazonses.com where SES is the sender).
    """
    walk = Walk(resolver=resolver)
    top = walk_record(walk, domain, (), "top")

    fact = {
        "role": role,
        "domain": domain,
        "status": top["status"],
        "query": top["query"],
        "records": top["records"],
        "record_count": len(top["records"]),
        "tree": top,
    }
    if top["status"] in ("none", "temperror"):
        fact["required_includes"] = list(required_includes)
        if top["status"] == "none":
            fact["suggested_record"] = " ".join(["v=spf1", *(f"include:{name}" for name in required_includes), "~all"])
        return fact
    if top["status"] == "permerror":
        fact["error"] = f"{len(top['records'])} SPF records at {domain}; RFC 7208 section 4.5 allows one"
        fact.update(suggest_merged(resolver, domain, top["records"], required_includes))
        return fact

    record = top["record"]
    result, term = all_result(top["terms"])
    missing = [include for include in required_includes if include not in walk.includes]
    fact.update(
        {
            "record": record,
            "all": result,
            "all_term": term,
            "dns_lookups": walk.dns_lookups,
            "void_lookups": walk.void_lookups,
            "lookups_exceeded": walk.dns_lookups > MAX_DNS_LOOKUPS,
            "void_exceeded": walk.void_lookups > MAX_VOID_LOOKUPS,
            "includes": sorted(walk.includes),
            "required_includes": list(required_includes),
            "missing_includes": missing,
            "syntax_errors": walk.syntax_errors,
            "loops": walk.loops,
            "missing_targets": walk.missing_targets,
            "mx_over_limit": walk.mx_over_limit,
            "ptr_terms": walk.ptr_terms,
            "temperrors": walk.temperrors,
            "invalid": bool(walk.syntax_errors or walk.loops or walk.missing_targets or walk.mx_over_limit),
            "lookup_terms": lookup_terms(top),
            "void_terms": void_terms(top),
            "lookup_advice": lookup_advice(top, walk.dns_lookups, walk.void_lookups, (*required_includes, SES_INCLUDE)),
        }
    )
    if missing:
        suggested = record
        for include in missing:
            suggested = with_include(suggested, include)
        fact["suggested_record"] = suggested

    # A temporary failure inside the tree leaves the counts and validity unknown.
    if walk.temperrors:
        fact["status"] = "temperror"
    elif fact["invalid"] or fact["lookups_exceeded"] or fact["void_exceeded"]:
        fact["status"] = "permerror"
    log.debug("SPF %s: %s, %d lookups, %d void", domain, fact["status"], walk.dns_lookups, walk.void_lookups)
    return fact
