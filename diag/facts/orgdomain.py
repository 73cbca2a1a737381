"""Organisational domains (RFC 7489 section 3.2) and DMARC identifier alignment."""

import functools

# publicsuffixlist parses its bundled list when constructed (tens of milliseconds), so one
# instance serves the whole process.
_psl = None


def public_suffix_list():
    """Return the process-wide PublicSuffixList instance."""
    global _psl
    if _psl is None:
        from publicsuffixlist import PublicSuffixList

        _psl = PublicSuffixList()
    return _psl


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
