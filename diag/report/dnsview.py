"""The DNS summary of a `maildiag dns` report: one row per record checked, and the SPF include trees.

Rows read the `dns.*` facts (docs/facts.md). Result words are record states (ok, missing,
invalid, multiple, ...), because no message was evaluated, except `temperror`: RFC 7208 and
RFC 8601's word for a check that a temporary DNS failure stopped. The detail of a temperror
row names the failed lookup with its DNS status (timeout, servfail, refused), never a
lookup that answered.
"""

from dataclasses import dataclass

from diag.dns.resolver import OUTSIDE_ZONES
from diag.report.evidence import spf_tree_lines

# Easy DKIM entry statuses (diag.dnscheck.ses) in report words.
DKIM_STATUS_WORDS = {"ok": "ok", "wrong_target": "wrong target", "txt_instead": "txt instead", "doubled": "doubled", "missing": "missing", "loop": "loop", "temperror": "temperror"}
# RFC 7208 section 4.6.4: at most 10 DNS-querying terms, at most 2 void lookups.
SPF_LOOKUP_LIMIT = 10


@dataclass
class DnsRow:
    check: str
    result: str
    detail: str = ""


@dataclass
class SpfTree:
    """The include tree of one SPF record, one line per record, indented by depth."""

    domain: str
    lines: list[str]


def _dicts(value: object) -> list[dict]:
    """Return the mappings in `value`: a list of them, or one alone. Reports from other
    versions or hand-written samples may hold either, and a reporter must not fail on them."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def dns_rows(dns: dict, domain: str = "") -> list[DnsRow]:
    """Return the summary rows: SPF, DMARC, Easy DKIM, other DKIM keys, MAIL FROM MX, MX, nameservers.

    `domain` names the checked domain where a fact leaves it out (reports of older versions).
    """
    rows = [_spf_row(_with_defaults(spf, domain)) for spf in _dicts(dns.get("spf"))]
    rows += [_dmarc_row(_with_defaults(dmarc, domain)) for dmarc in _dicts(dns.get("dmarc"))]
    for ses_dkim in _dicts(dns.get("ses_dkim")):
        rows += _easy_dkim_rows(ses_dkim)
    rows += [_selector_key_row(key) for key in _dicts(dns.get("dkim_keys")) if key.get("source") == "selector"]
    rows += [_mail_from_row(mail_from) for mail_from in _dicts(dns.get("mail_from"))]
    rows += [_mx_row(mx) for mx in _dicts(dns.get("mx"))]
    rows += [_nameservers_row(authoritative) for authoritative in _dicts(dns.get("authoritative"))]
    return rows


def _with_defaults(fact: dict, domain: str) -> dict:
    """Fill what older reports leave out: the domain, and `record` and `record_count` from `records`."""
    fact = dict(fact)
    if domain and not fact.get("domain"):
        fact["domain"] = domain
    records = fact.get("records")
    if isinstance(records, list):
        fact.setdefault("record_count", len(records))
        if len(records) == 1:
            fact.setdefault("record", records[0])
    return fact


def spf_trees(dns: dict) -> list[SpfTree]:
    """Return the include tree of each SPF record that has at least one include or redirect."""
    trees = []
    for spf in _dicts(dns.get("spf")):
        lines: list[str] = []
        spf_tree_lines(spf.get("tree") or {}, 0, lines)
        if len(lines) > 1:
            trees.append(SpfTree(domain=spf.get("domain", ""), lines=lines))
    return trees


def _spf_row(spf: dict) -> DnsRow:
    check = "SPF, MAIL FROM" if spf.get("role") == "mail_from" else "SPF"
    name = spf.get("domain", "")
    status = spf.get("status")
    if status == "temperror":
        # The record may have been found and an include's lookup failed. Both are shown, so
        # the row never blames a lookup that succeeded.
        record = f"\"{spf['record']}\"; " if spf.get("record") else ""
        return DnsRow(check, "temperror", f"{name}: {record}{_temperror_detail(spf)}")
    if status == "none" or not (spf.get("record") or spf.get("records")):
        return DnsRow(check, "missing", f"{name}: no TXT record starting with v=spf1")
    if (spf.get("record_count") or 0) > 1:
        return DnsRow(check, "multiple", f"{name}: {spf['record_count']} v=spf1 records, so receivers return permerror")

    # The lookup counts are absent when the record was not evaluated (an older report).
    lookups = f"{spf['dns_lookups']} of {SPF_LOOKUP_LIMIT} DNS lookups, {spf.get('void_lookups', 0)} void" if "dns_lookups" in spf else ""
    problems = []
    if spf.get("lookups_exceeded"):
        problems.append("lookup limit exceeded")
    if spf.get("syntax_errors"):
        problems.append("syntax: " + "; ".join(spf["syntax_errors"]))
    if spf.get("missing_includes"):
        problems.append("missing include:" + ", include:".join(spf["missing_includes"]))
    result = "invalid" if spf.get("invalid") or spf.get("lookups_exceeded") or spf.get("syntax_errors") else "ok"
    if result == "ok" and spf.get("missing_includes"):
        result = "missing"
    detail = f"{name}: \"{spf.get('record', '')}\""
    return DnsRow(check, result, "; ".join(part for part in [detail, lookups, *problems] if part))


def _dmarc_row(dmarc: dict) -> DnsRow:
    check = "DMARC"
    name = f"_dmarc.{dmarc.get('policy_domain') or dmarc.get('domain', '')}"
    status = dmarc.get("status")
    if status == "temperror":
        return DnsRow(check, "temperror", f"{name}: {_temperror_detail(dmarc)}")
    if status == "none" or not dmarc.get("record"):
        return DnsRow(check, "missing", f"_dmarc.{dmarc.get('domain', '')}: no TXT record starting with v=DMARC1, here or at the organisational domain")
    if (dmarc.get("record_count") or 0) > 1:
        return DnsRow(check, "multiple", f"{name}: {dmarc['record_count']} v=DMARC1 records, so receivers apply no policy")

    parts = [f"{name}: \"{dmarc['record']}\""]
    if dmarc.get("policy_domain") and dmarc.get("policy_domain") != dmarc.get("domain"):
        parts.append(f"found at the organisational domain {dmarc['policy_domain']}")
    # p= is absent from facts of a record that was not parsed (an older report).
    if dmarc.get("p"):
        policy = f"policy p={dmarc['p']}"
        if dmarc.get("effective_policy") and dmarc.get("effective_policy") != dmarc.get("p"):
            policy += f", effective {dmarc['effective_policy']}"
        if dmarc.get("pct") not in (None, 100):
            policy += f", pct={dmarc['pct']}"
        parts.append(policy)
    result = "invalid" if dmarc.get("syntax_errors") else "ok"
    if dmarc.get("syntax_errors"):
        parts.append("syntax: " + "; ".join(dmarc["syntax_errors"]))
    return DnsRow(check, result, "; ".join(parts))


def _easy_dkim_rows(ses_dkim: dict) -> list[DnsRow]:
    if not ses_dkim:
        return []
    if ses_dkim.get("status") == "unknown_tokens":
        return [DnsRow("Easy DKIM", "not checked", "the tokens are unknown: list dkim_tokens in the --expect file")]

    rows = []
    for entry in ses_dkim.get("entries") or []:
        result = DKIM_STATUS_WORDS.get(entry.get("status"), entry.get("status", ""))
        name, expected = entry.get("name", ""), entry.get("expected_target", "")
        if entry.get("status") == "temperror":
            key_fact = entry.get("key") or {}
            failed = {"queries": [*_dicts(entry.get("queries")), *_dicts(entry.get("txt_query")), *_dicts(entry.get("doubled_query")), *_dicts(key_fact.get("query"))]}
            rows.append(DnsRow("Easy DKIM", result, f"{name}: {_temperror_detail(failed)}"))
            continue
        if entry.get("status") == "txt_instead":
            detail = f"{name}: a TXT record instead of CNAME {expected}"
        elif entry.get("status") == "doubled":
            detail = f"{name}: no CNAME; it was published as {entry.get('doubled_name', 'a name with the zone appended twice')}"
        elif entry.get("target"):
            detail = f"{name} CNAME {entry['target']}" + ("" if entry.get("status") == "ok" else f"; expected {expected}")
        else:
            detail = f"{name}: no CNAME; expected {expected}"
        key = entry.get("key") or {}
        if key.get("bits"):
            detail += f"; {key['bits']}-bit {str(key.get('type', '')).upper()} key"
        rows.append(DnsRow("Easy DKIM", result, detail))
    return rows


def _selector_key_row(key: dict) -> DnsRow:
    if key.get("status") == "temperror":
        result = "temperror"
    elif key.get("weak"):
        result = "weak"
    elif key.get("status") == "ok":
        result = "ok"
    else:
        result = "missing"
    detail = key.get("name", "")
    if result == "temperror":
        return DnsRow("DKIM key", result, f"{detail}: {_temperror_detail(key)}")
    if key.get("bits"):
        detail += f": {key['bits']}-bit {str(key.get('type', '')).upper()} key"
    return DnsRow("DKIM key", result, detail)


def _mail_from_row(mail_from: dict) -> DnsRow:
    check = "MX, MAIL FROM"
    name = mail_from.get("domain", "")
    if mail_from.get("status") == "temperror":
        return DnsRow(check, "temperror", f"{name}: {_temperror_detail(mail_from)}")
    hosts = _hosts(mail_from)
    if mail_from.get("status") == "none" or not hosts:
        return DnsRow(check, "missing", f"{name}: no MX; expected {mail_from.get('expected') or '10 feedback-smtp.REGION.amazonses.com'}")
    if mail_from.get("matches") is False:
        return DnsRow(check, "mismatch", f"{name}: {hosts}; expected {mail_from.get('expected')}")
    return DnsRow(check, "ok", f"{name}: {hosts}")


def _mx_row(mx: dict) -> DnsRow:
    check = "MX"
    name = mx.get("domain", "")
    if mx.get("status") == "temperror":
        return DnsRow(check, "temperror", f"{name}: {_temperror_detail(mx)}")
    if mx.get("null_mx"):
        return DnsRow(check, "null mx", f"{name}: 0 . (RFC 7505), so the domain accepts no mail and replies to it fail")
    hosts = _hosts(mx)
    if not hosts:
        return DnsRow(check, "missing", f"{name}: no MX record")
    return DnsRow(check, "ok", f"{name}: {hosts}")


def _nameservers_row(authoritative: dict) -> DnsRow:
    servers = ", ".join(_server_text(server) for server in _dicts(authoritative.get("servers")))
    status = authoritative.get("status")
    result = {"ok": "agree", "disagree": "disagree"}.get(status, status or "")
    detail = f"{servers}; {authoritative.get('questions_compared', 0)} questions compared"
    if authoritative.get("disagreements"):
        detail += ", differ: " + ", ".join(f"{item['name']} {item['type']}" for item in authoritative["disagreements"])
    for item in _dicts(authoritative.get("rule_differences")):
        detail += f"; {item.get('rule')} fails on {', '.join(item.get('fails_on') or [])} only"
    return DnsRow("Nameservers", result, f"{authoritative.get('zone', '')}: {detail}")


def _server_text(server: dict) -> str:
    """Return `ns1.example.com (192.0.2.53) serial 7`, or `no answer from ...` for a server that did not answer the SOA query."""
    where = f"{server.get('name')} ({server.get('address')})"
    if server.get("serial") is None:
        status = server.get("soa_status")
        return f"no answer from {where}" + (f" ({status})" if status and status != "ok" else "")
    return f"{where} serial {server['serial']}"


def _hosts(fact: dict) -> str:
    return ", ".join(f"{host.get('preference')} {host.get('exchange')}" for host in fact.get("hosts") or [])


def _temperror_detail(fact: dict) -> str:
    """Name the lookups that failed temporarily, with their DNS status: `amazonses.com TXT timeout (...)`."""
    failed = [query for query in _queries(fact) if query.get("status") not in (None, "ok", "nxdomain", "nodata")]
    if not failed:
        return "a lookup failed temporarily; retry later"
    lines = []
    for query in failed:
        line = f"{query.get('name', '?')} {query.get('type', '')} {query.get('status')}".replace("  ", " ")
        # The resolver retries once and repeats the same message per try.
        details = list(dict.fromkeys(part for part in str(query.get("detail") or "").split("; ") if part))
        lines.append(f"{line} ({'; '.join(details)})" if details else line)
    return f"lookup failed temporarily: {', '.join(dict.fromkeys(lines))}; retry later"


def _queries(fact: dict) -> list[dict]:
    """Return every DNS answer a fact records: its failures first, then its own queries."""
    queries = _dicts(fact.get("temperrors"))
    queries += _dicts(fact.get("queries"))
    queries += _dicts(fact.get("query"))
    return queries


# Answer statuses of diag.dns.resolver that mean a lookup failed temporarily.
TEMPORARY_STATUSES = ("timeout", "servfail", "refused")


def failed_lookups(dns: dict) -> list[dict]:
    """Return each distinct lookup in the `dns` facts that failed temporarily: name, type, status, nameserver."""
    found: dict[tuple, dict] = {}
    _collect_failed(dns, found)
    return list(found.values())


def _collect_failed(value: object, found: dict) -> None:
    if isinstance(value, list):
        for item in value:
            _collect_failed(item, found)
        return
    if not isinstance(value, dict):
        return
    if value.get("status") in TEMPORARY_STATUSES and "name" in value and "type" in value:
        key = (value.get("nameserver"), value["name"], value["type"])
        found.setdefault(key, {"name": value["name"], "type": value["type"], "status": value["status"], "nameserver": value.get("nameserver"), "detail": value.get("detail")})
    for item in value.values():
        _collect_failed(item, found)


def names_outside_zones(lookups: list[dict]) -> list[str]:
    """Return the names of failed lookups when every one failed because no zone file covers it, else []."""
    outside = [lookup["name"] for lookup in lookups if str(lookup.get("detail") or "").startswith(OUTSIDE_ZONES)]
    return sorted(set(outside)) if lookups and len(outside) == len(lookups) else []


def failed_lookups_text(lookups: list[dict]) -> str:
    """Return `3 lookups failed (timeout, SERVFAIL)` for the headline and progress lines."""
    statuses = sorted({lookup["status"] for lookup in lookups})
    words = ", ".join(status.upper() if status in ("servfail", "refused") else status for status in statuses)
    return f"{len(lookups)} {'lookup' if len(lookups) == 1 else 'lookups'} failed ({words})"
