"""Readable evidence values for the terminal, HTML, Markdown and JUnit reports.

The JSON report keeps every value as the rule engine found it. The other reports write the
common shapes the way an expert would. A decoded Microsoft code reads `5 — meaning`, a DKIM
result `d=example.com pass (aligned)`, a Received hop `from X by Y, +2 s`. A DNS answer reads
as dig prints it, and an SPF include tree as an indented tree. Shapes are recognised by their
keys (the paths in docs/facts.md), so every rule that shows such a value gets the same text.
"""

import json
from collections.abc import Callable

# A line break inside a value separates list items; a reporter keeps it.
LINE_BREAK = "\n"


def format_value(value: object) -> str:
    """Return an evidence value as text: scalars as they read, known shapes in their expert form, other mappings as key=value pairs."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, dict):
        return _format_mapping(value)
    if isinstance(value, (list, tuple)):
        return _format_list(list(value))
    return str(value)


def _number(value: int | float) -> str:
    # JSON reads 1.0 and 1 alike; a delay of "1.0 s" reads as false precision.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _format_list(items: list) -> str:
    if not items:
        return "(none)"
    if all(isinstance(item, dict) and is_esp_evidence(item) for item in items):
        # Short clues read best on one line, in the order the facts list them.
        return ", ".join(esp_evidence_line(item) for item in items)
    if all(isinstance(item, dict) for item in items):
        return LINE_BREAK.join(format_value(item) for item in items)
    if all(not isinstance(item, (dict, list, tuple)) for item in items):
        return ", ".join(format_value(item) for item in items)
    return LINE_BREAK.join(format_value(item) for item in items)


def _format_mapping(value: dict) -> str:
    for matches, formatter in SHAPES:
        if matches(value):
            return formatter(value)
    return _key_values(value)


def _key_values(value: dict) -> str:
    """Return a mapping as `key=value; key=value`, leaving out absent values."""
    parts = []
    for key, item in value.items():
        if item is None:
            continue
        text = format_value(item)
        if LINE_BREAK in text or (isinstance(item, dict) and not _is_known_shape(item)):
            # A nested record keeps its own brackets so that its pairs do not mix with ours.
            text = "(" + text.replace(LINE_BREAK, "; ") + ")"
        parts.append(f"{key}={text}")
    if not parts:
        # An empty mapping, or one whose values are all absent, still reads as a value.
        return json.dumps(value)
    return "; ".join(parts)


def is_dns_answer(value: object) -> bool:
    """Tell whether `value` is the evidence of one DNS answer (diag.dnscheck.evidence.evidence)."""
    return isinstance(value, dict) and {"name", "type", "status", "answer"} <= value.keys()


def dns_answer_line(answer: dict) -> str:
    """Return one DNS answer as `NAME TYPE STATUS: RECORD | RECORD (via CNAME, ttl, server)`, close to dig's reading."""
    line = f"{answer['name']} {answer['type']} {answer['status']}"
    records = answer.get("answer") or []
    if records:
        line += ": " + " | ".join(f'"{record}"' if answer["type"] == "TXT" else str(record) for record in records)
    notes = []
    if answer.get("cname_chain"):
        notes.append("via CNAME " + " -> ".join(answer["cname_chain"]))
    if answer.get("ttl") is not None:
        notes.append(f"ttl {answer['ttl']}")
    if answer.get("server"):
        notes.append(f"from {answer['server']}")
    if answer.get("detail"):
        notes.append(str(answer["detail"]))
    if answer.get("nameserver"):
        notes.insert(0, f"nameserver {answer['nameserver']}")
    return f"{line} ({', '.join(notes)})" if notes else line


def is_decoded_code(value: dict) -> bool:
    """Tell whether `value` is a decoding-table entry (microsoft.decoded.*, verdicts.compauth_decoded)."""
    return "value" in value and ("meaning" in value or "documented" in value)


def decoded_code_line(value: dict) -> str:
    """Return a decoded Microsoft code as `VALUE — meaning`, saying so when Microsoft does not document it."""
    code = format_value(value.get("value"))
    if value.get("documented") is False:
        return f"{code} — {value.get('meaning') or 'not documented by Microsoft'}"
    meaning = value.get("meaning")
    return f"{code} — {meaning}" if meaning else code


def is_dkim_verdict(value: dict) -> bool:
    """Tell whether `value` is one receiver DKIM result (an item of verdicts.dkim)."""
    return {"domain", "result"} <= value.keys() and ("aligned" in value or "signature" in value)


def dkim_verdict_line(value: dict) -> str:
    """Return a receiver DKIM result as `d=DOMAIN s=SELECTOR RESULT (aligned|not aligned, reason)`."""
    line = f"d={value.get('domain') or '?'}"
    if value.get("selector"):
        line += f" s={value['selector']}"
    line += f" {value.get('result') or '?'}"
    notes = []
    if "aligned" in value:
        notes.append("aligned" if value["aligned"] else "not aligned")
    if value.get("reason"):
        notes.append(str(value["reason"]))
    return f"{line} ({', '.join(notes)})" if notes else line


def is_verified_signature(value: dict) -> bool:
    """Tell whether `value` is maildiag's own result for one signature (an item of verify.dkim)."""
    return {"d", "result", "index"} <= value.keys()


def verified_signature_line(value: dict) -> str:
    """Return maildiag's DKIM result as `#INDEX d=DOMAIN s=SELECTOR RESULT (reason; receiver: RESULT)`."""
    line = f"#{value.get('index')} d={value.get('d') or '?'}"
    if value.get("s"):
        line += f" s={value['s']}"
    line += f" {value.get('result') or '?'}"
    notes = [str(value["reason"])] if value.get("reason") else []
    if value.get("receiver_result"):
        notes.append(f"receiver: {value['receiver_result']}")
    return f"{line} ({'; '.join(notes)})" if notes else line


def is_received_hop(value: dict) -> bool:
    """Tell whether `value` is one parsed Received field (an item of received.hops)."""
    return "by" in value and ("raw" in value or "delay_seconds" in value)


def received_hop_line(value: dict) -> str:
    """Return a Received hop as `from HOST (IP) by HOST, +N s`, with `no TLS` when the hop recorded none."""
    parts = []
    if value.get("from"):
        origin = str(value["from"])
        if value.get("from_ip") and str(value["from_ip"]) not in origin:
            origin += f" ({value['from_ip']})"
        parts.append(f"from {origin}")
    if value.get("by"):
        parts.append(f"by {value['by']}")
    line = " ".join(parts) or str(value.get("raw") or "Received hop")
    if value.get("delay_seconds") is not None:
        line += f", {signed_duration(value['delay_seconds'])}"
    if value.get("tls") is False:
        line += ", no TLS"
    return line


def signed_duration(seconds: float) -> str:
    """Return a hop delay as `+2 s`, `+7 min 5 s` or `+1 h 3 min`; a negative delay means the clocks disagree."""
    sign = "-" if seconds < 0 else "+"
    total = round(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours} h {minutes} min"
    if minutes:
        return f"{sign}{minutes} min {secs} s" if secs else f"{sign}{minutes} min"
    return f"{sign}{secs} s"


def is_spf_tree(value: dict) -> bool:
    """Tell whether `value` is the root of an SPF include tree (dns.spf[].tree)."""
    return "domain" in value and "terms" in value and "via" in value


def spf_tree_text(value: dict) -> str:
    """Return an SPF include tree one record a line, indented by depth."""
    lines: list[str] = []
    spf_tree_lines(value, 0, lines)
    return LINE_BREAK.join(lines)


def spf_tree_lines(node: dict, depth: int, lines: list[str]) -> None:
    """Append the lines of `node` and its includes to `lines`: the record, or the lookup's DNS status when there is none."""
    indent = "  " * depth + ("`- " if depth else "")
    via = f"{node.get('via')}:" if depth else ""
    record = node.get("record")
    state = f'"{record}"' if record else _lookup_state(node)
    lines.append(f"{indent}{via}{node.get('domain', '')} {state}".rstrip())
    for term in node.get("terms") or []:
        if term.get("child"):
            spf_tree_lines(term["child"], depth + 1, lines)
        elif term.get("note"):
            lines.append("  " * (depth + 1) + f"`- {term.get('term', '')}: {term['note']}")


def _lookup_state(node: dict) -> str:
    """Return why a tree node has no record: the TXT lookup's DNS status (nxdomain, nodata, timeout, servfail)."""
    query = node.get("query") or {}
    status = query.get("status")
    if status and status != "ok":
        return f"TXT {status}"
    # TXT records without v=spf1 give SPF "none" for that name (RFC 7208 section 4.5).
    return "no SPF record" if status == "ok" else str(node.get("status") or "")


def is_esp_evidence(value: dict) -> bool:
    """Tell whether `value` is one clue that names a sending service (an item of identities.esp_evidence)."""
    return {"field", "value", "strength"} <= value.keys()


def esp_evidence_line(value: dict) -> str:
    """Return a sending-service clue as `FIELD VALUE (strength)`, for example `Feedback-ID AmazonSES (strong)`."""
    line = f"{value.get('field') or '?'} {format_value(value.get('value'))}"
    return f"{line} ({value['strength']})" if value.get("strength") else line


def is_arc_first_hop(value: dict) -> bool:
    """Tell whether `value` is the summary of ARC instance 1 (arc.first_hop)."""
    return {"instance", "from_authenticated"} <= value.keys()


def arc_first_hop_line(value: dict) -> str:
    """Return ARC instance 1 as `i=1 HOST: spf=pass (DOMAIN) dkim=pass (DOMAIN) dmarc=pass (p=none)`.

    A result that does not align with the hop's header.from says so, because alignment is
    what DMARC counts (RFC 7489 section 3.1).
    """
    line = f"i={value.get('instance')} {value.get('authserv_id') or value.get('sealer') or '?'}:"
    clauses = []
    if value.get("spf"):
        clauses.append(f"spf={value['spf']}" + _arc_domain_note(value.get("spf_domain"), value.get("spf_aligned")))
    for signature in value.get("dkim") or []:
        clauses.append(f"dkim={signature.get('result') or '?'}" + _arc_domain_note(signature.get("domain"), signature.get("aligned")))
    if value.get("dmarc"):
        policy = f" (p={value['dmarc_policy']})" if value.get("dmarc_policy") else ""
        clauses.append(f"dmarc={value['dmarc']}{policy}")
    if not clauses:
        clauses.append("no results")
    if value.get("header_from"):
        clauses.append(f"header.from={value['header_from']}")
    return f"{line} {' '.join(clauses)}"


def _arc_domain_note(domain: object, aligned: object) -> str:
    if not domain:
        return ""
    return f" ({domain}, not aligned)" if aligned is False else f" ({domain})"


def _is_known_shape(value: dict) -> bool:
    return any(matches(value) for matches, _formatter in SHAPES)


# Checked in this order: a DNS answer also has a `name`, and a DKIM verdict a `result`.
SHAPES: tuple[tuple[Callable[[dict], bool], Callable[[dict], str]], ...] = (
    (is_dns_answer, dns_answer_line),
    (is_decoded_code, decoded_code_line),
    (is_dkim_verdict, dkim_verdict_line),
    (is_verified_signature, verified_signature_line),
    (is_received_hop, received_hop_line),
    (is_spf_tree, spf_tree_text),
    (is_arc_first_hop, arc_first_hop_line),
    (is_esp_evidence, esp_evidence_line),
)
