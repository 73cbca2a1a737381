"""Organisational domains (RFC 7489 section 3.2) and DMARC identifier alignment."""

import functools

# publicsuffixlist parses its bundled list when constructed (tens of milliseconds), so one
# instance serves the whole process.
_psl = None


def public_suffix_list():
    """Return the process-wide PublicSuffixList instance."""
    global _psl
    if _psl is None:
        _psl = _build_list()
    return _psl


def _build_list():
    """Build the PublicSuffixList of the bundled list, with the punycode form of each IDN rule.

    PublicSuffixList() adds the punycode form of every rule by passing it through the idna
    codec, about 15 ms of the start-up for some 10,000 rules. The codec returns an ASCII
    rule unchanged, so only the few hundred rules with non-ASCII labels are encoded here,
    and the library parses the bundled lines plus those forms with accept_encoded_idn off.
    The resulting list contains the same rules as PublicSuffixList() (publicsuffixlist 1.1.2;
    tests/test_facts_orgdomain.py compares the two).
    """
    from publicsuffixlist import PSLFILE, PublicSuffixList, encode_idn

    with open(PSLFILE, "rb") as handle:
        lines = handle.read().decode("utf-8", "surrogateescape").splitlines()

    # A rule is the first word of a line, lower-cased, as the library reads it. "//" starts
    # a comment line and "!" an exception rule.
    encoded = []
    for line in lines:
        rule = line.lower().split(" ")[0].rstrip()
        if not rule or rule.startswith("//") or rule.isascii():
            continue
        exception = "!" if rule[0] == "!" else ""
        encoded.append(exception + encode_idn(rule.lstrip("!")))
    return PublicSuffixList(source=lines + encoded, accept_encoded_idn=False)


# Cached because the same domains recur across messages, and the fact modules normalise
# each several times per message.
@functools.lru_cache(maxsize=4096)
def normalise(domain: str | None) -> str | None:
    """Lower-case a domain and drop a trailing dot; None and "" give None."""
    if not domain:
        return None
    domain = domain.strip().strip(".").lower()
    return domain or None


@functools.lru_cache(maxsize=4096)
def org_domain(domain: str | None) -> str | None:
    """Return the organisational domain: the public suffix plus one label.

    A domain that is itself a public suffix, or has no known suffix, is returned as is.
    """
    domain = normalise(domain)
    if domain is None:
        return None
    return public_suffix_list().privatesuffix(domain) or domain


def aligned(domain: str | None, from_domain: str | None, strict: bool = False) -> bool:
    """Tell whether `domain` aligns with the From domain (RFC 7489 section 3.1).

    Relaxed mode compares organisational domains, strict mode the full names.
    """
    domain, from_domain = normalise(domain), normalise(from_domain)
    if domain is None or from_domain is None:
        return False
    if strict:
        return domain == from_domain
    return org_domain(domain) == org_domain(from_domain)
