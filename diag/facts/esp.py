"""Recognise email service providers by domain, from rules/tables/esp.yaml."""

import functools

import yaml

from diag.facts.orgdomain import org_domain
from diag.paths import data_path


@functools.lru_cache(maxsize=1)
def _domains() -> dict[str, str]:
    with open(data_path("rules") / "tables" / "esp.yaml", encoding="utf-8") as handle:
        table = yaml.safe_load(handle)
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
    with open(data_path("rules") / "tables" / "esp.yaml", encoding="utf-8") as handle:
        table = yaml.safe_load(handle)
    return {key: provider["name"] for key, provider in table["providers"].items()}
