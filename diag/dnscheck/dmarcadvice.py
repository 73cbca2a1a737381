"""Build the DMARC record to publish next: a first record, a corrected one, or one step stronger.

Every record built from an existing one keeps the domain's own tags (rua, ruf, adkim, fo,
unknown tags, ...) in their order, and a policy is only ever raised, never lowered. The
rollout order is p=none, then p=quarantine, then p=reject. A pct below 100 (RFC 7489
section 6.3) is a partial step, so it goes to 100 before the policy moves on.
"""

import difflib

from diag.dnscheck.dmarcrecord import KNOWN_TAGS, POLICIES, POLICY_RANK, ParsedRecord


def starter_record(domain: str, min_policy: str | None = None) -> str:
    """Return the first record for a domain without one, with aggregate reports.

    The policy is p=none (monitoring) unless `min_policy` requires a stronger one, because a record below it
    would fail the minimum-policy check as soon as it is published.
    """
    policy = min_policy if min_policy in POLICY_RANK else "none"
    return f"v=DMARC1; p={policy}; rua=mailto:dmarc-reports@{domain}"


def _intended_policy(value: str) -> str:
    """Return the policy a misspelt p= value most likely meant, or none.

    A record with an invalid p is applied as p=none at most (RFC 7489 section 6.6.3 step 6),
    so falling back to none does not weaken what receivers do today.
    """
    match = difflib.get_close_matches(value.lower(), POLICIES, n=1, cutoff=0.6)
    return match[0] if match else "none"


def _format(tags: dict[str, str]) -> str:
    """Return the record text: v first, p second (RFC 7489 section 6.4), then the rest in order."""
    rest = [f"{name}={value}" for name, value in tags.items() if name not in ("v", "p")]
    return "; ".join(["v=DMARC1", f"p={tags['p']}", *rest])


def _valid_tags(parsed: ParsedRecord) -> dict[str, str]:
    """Return the valid tags of `parsed` and its unknown ones (kept as written), with p set.

    A rua or ruf list with an invalid URI keeps its valid URIs.
    """
    tags = {}
    for name, value in parsed.tags.items():
        if name in parsed.valid or name not in KNOWN_TAGS:
            tags[name] = value
        elif name in ("rua", "ruf") and getattr(parsed, name):
            tags[name] = ",".join(uri.uri for uri in getattr(parsed, name))
    if "p" not in parsed.valid:
        tags = {"p": _intended_policy(parsed.tags.get("p", "")), **tags}
    return tags


def corrected_record(parsed: ParsedRecord) -> str:
    """Return `parsed` with its invalid tags removed and p set, keeping every valid tag."""
    return _format(_valid_tags(parsed))


def _raise_tag(tags: dict[str, str], name: str, policy: str) -> None:
    """Set tag `name` to `policy` unless it is already at least that strong."""
    current = tags.get(name, "").lower()
    if current not in POLICY_RANK or POLICY_RANK[current] < POLICY_RANK[policy]:
        tags[name] = policy


def stronger_record(parsed: ParsedRecord, governing_tag: str) -> str | None:
    """Return the next step of the rollout for a valid record, or None at p=reject with pct=100.

    `governing_tag` is p when the record is the domain's own, and sp when the record was
    found at the organisational domain and sp is set (RFC 7489 section 6.6.3 step 6).
    A pct below 100 is raised to 100 before the policy moves on.
    """
    tags = _valid_tags(parsed)
    policy = tags.get(governing_tag, tags["p"]).lower()

    if parsed.percent < 100:
        # pct applies to quarantine and reject alike (RFC 7489 section 6.3), and 100 is its default.
        del tags["pct"]
        if policy == "none":
            _raise_tag(tags, governing_tag, "quarantine")
        return _format(tags)
    if policy == "reject":
        return None
    _raise_tag(tags, governing_tag, "reject" if policy == "quarantine" else "quarantine")
    return _format(tags)


def at_least_record(parsed: ParsedRecord, min_policy: str) -> str:
    """Return `parsed` with p, and sp when present, raised to `min_policy`. Stronger values stay."""
    tags = _valid_tags(parsed)
    _raise_tag(tags, "p", min_policy)
    if "sp" in tags:
        _raise_tag(tags, "sp", min_policy)
    return _format(tags)


def merged_record(records: list[ParsedRecord]) -> str:
    """Merge several records into the one to keep: the strongest policy and every report URI.

    RFC 7489 section 6.6.3 step 5 applies no policy when more than one record is published.
    """
    strongest = max(records, key=lambda parsed: (POLICY_RANK.get(parsed.policy or "none", 0), parsed.percent))
    tags = _valid_tags(strongest)
    for name in ("rua", "ruf"):
        uris = []
        for parsed in [strongest, *[other for other in records if other is not strongest]]:
            for uri in getattr(parsed, name):
                if uri.uri.lower() not in (known.lower() for known in uris):
                    uris.append(uri.uri)
        if uris:
            tags[name] = ",".join(uris)
    return _format(tags)
