"""Say which terms of an SPF record cost its DNS lookups, and which to remove or flatten first.

RFC 7208 section 4.6.4 counts include, a, mx, ptr, exists and redirect toward a limit of 10
per evaluation, through every nested include and redirect, and asks receivers to stop after
2 void lookups (an answer with no records, or NXDOMAIN). Each mx term may also look up at
most 10 address records for its MX hosts; those do not count toward the 10 terms.

The input is the tree that diag.dnscheck.spf.walk_record builds.
"""

MAX_DNS_LOOKUPS = 10
MAX_VOID_LOOKUPS = 2


def _subtree_cost(fact: dict) -> tuple[int, int]:
    """Return (lookups, void lookups) of one term fact, its include or redirect target included."""
    lookups = fact.get("lookups", 0)
    void = 1 if fact.get("void") else 0
    for child_term in (fact.get("child") or {}).get("terms") or []:
        child_lookups, child_void = _subtree_cost(child_term)
        lookups += child_lookups
        void += child_void
    return lookups, void


def _walk_terms(node: dict, path: tuple[str, ...] = ()):
    """Yield (record domain, include path, term fact) for every term of the tree, depth first."""
    domain = node.get("domain", "")
    for fact in node.get("terms") or []:
        yield domain, path, fact
        child = fact.get("child")
        if child:
            yield from _walk_terms(child, path + (fact["term"],))


def _describe(fact: dict, lookups: int, void: int) -> str:
    text = f"{fact['term']} ({lookups} {'lookup' if lookups == 1 else 'lookups'}"
    if void:
        text += f", {void} void"
    if fact.get("address_lookups"):
        count = fact["address_lookups"]
        text += f", plus {count} address {'lookup' if count == 1 else 'lookups'} for its MX {'host' if count == 1 else 'hosts'}"
    return text + ")"


def lookup_terms(tree: dict) -> list[dict]:
    """Return the record's own terms that cost lookups, with the cost of everything they pull in."""
    terms = []
    for fact in tree.get("terms") or []:
        lookups, void = _subtree_cost(fact)
        if not lookups:
            continue
        item = {"term": fact["term"], "lookups": lookups, "void_lookups": void, "text": _describe(fact, lookups, void)}
        if fact.get("address_lookups"):
            item["address_lookups"] = fact["address_lookups"]
        terms.append(item)
    return sorted(terms, key=lambda item: -item["lookups"])


def void_terms(tree: dict) -> list[dict]:
    """Return every term of the tree whose lookup was void, with the record it sits in."""
    return [
        {"term": fact["term"], "domain": domain, "via": " > ".join(path)}
        for domain, path, fact in _walk_terms(tree)
        if fact.get("void")
    ]


def _place_lookup_terms(node: dict, places: dict) -> None:
    """Map each lookup term's (kind, target) to where it is written: `mx in example.com`.

    A repeated include is entered once, so the terms inside it are not reported as repeated
    on their own.
    """
    for fact in node.get("terms") or []:
        if not fact.get("lookups"):
            continue
        key = (fact.get("mechanism") or fact.get("modifier"), fact.get("target"))
        places.setdefault(key, []).append(f"{fact['term']} in {node.get('domain', '')}")
        if len(places[key]) == 1 and fact.get("child"):
            _place_lookup_terms(fact["child"], places)


def repeated_terms(tree: dict) -> list[dict]:
    """Return the lookup terms evaluated more than once in the tree, with where each is written."""
    places: dict = {}
    _place_lookup_terms(tree, places)
    return [{"kind": kind, "target": target, "count": len(where), "places": where} for (kind, target), where in places.items() if len(where) > 1]


def lookup_advice(tree: dict, dns_lookups: int, void_lookups: int, keep: tuple[str, ...] = ()) -> list[str]:
    """Return what to remove or flatten, in order, to bring the record within both limits.

    `keep` lists include targets that must stay (amazonses.com: SES changes its ranges).
    """
    advice = []
    voids = void_terms(tree)
    if voids:
        names = ", ".join(f"{item['term']} (in {item['domain']})" for item in voids)
        advice.append(f"Remove the terms whose lookup finds no records: {names}. They match no sender and each counts as a void lookup and a DNS lookup.")

    for item in repeated_terms(tree):
        advice.append(
            f"{item['kind']} for {item['target']} is evaluated {item['count']} times ({', '.join(item['places'])}), "
            "and each evaluation counts; keep one of them."
        )

    if dns_lookups > MAX_DNS_LOOKUPS:
        excess = dns_lookups - MAX_DNS_LOOKUPS
        void_names = {item["term"] for item in voids if item["domain"] == tree.get("domain")}
        candidates = [
            item for item in lookup_terms(tree)
            if item["term"] not in void_names and item["term"].lower().split(":", 1)[-1] not in keep
        ]
        if candidates:
            listed = "; ".join(item["text"] for item in candidates)
            advice.append(
                f"Save at least {excess} {'lookup' if excess == 1 else 'lookups'}: replace terms with the ip4:/ip6: ranges they resolve to "
                f"(flattening), or remove those of services that no longer send. Largest first: {listed}."
            )
    if void_lookups > MAX_VOID_LOOKUPS and not voids:
        advice.append("Remove include targets that have no SPF record; each counts as a void lookup.")
    return advice
