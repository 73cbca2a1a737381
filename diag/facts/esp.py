"""Recognise email service providers by domain, from rules/tables/esp.yaml."""

import functools

from diag.facts import tables
from diag.facts.orgdomain import org_domain


@functools.lru_cache(maxsize=1)
def _domains() -> dict[str, str]:
    # tables.load reads the file once, with libyaml, for both functions here.
    table = tables.load("esp")
    by_domain = {}
    for key, provider in table["providers"].items():
        for domain in provider["domains"]:
            by_domain[domain] = key
    return by_domain


def provider_of(domain: str | None) -> str | None:
    """Return the provider key (`amazonses`, `sendgrid`, ...) owning `domain`, or None."""
    organisational = org_domain(domain)
    if organisational is None:
        return None
    return _domains().get(organisational)


@functools.lru_cache(maxsize=1)
def provider_names() -> dict[str, str]:
    """Return provider key to display name."""
    table = tables.load("esp")
    return {key: provider["name"] for key, provider in table["providers"].items()}
