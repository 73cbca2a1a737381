"""Expectations for `maildiag dns`: what the domain's DNS should hold.

Read from a TOML file, or from the `[tool.maildiag]` table of a pyproject.toml:

    domain = "example.com"
    region = "eu-west-1"
    dkim_tokens = ["abc123...", "def456...", "ghi789..."]   # or dkim_selectors = ["s1"]
    mail_from_domain = "bounce.example.com"
    min_dmarc_policy = "quarantine"
    spf_includes = ["amazonses.com"]
"""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from diag.dnscheck.names import to_ascii_domain
from diag.errors import InputError

KEYS = ("domain", "region", "dkim_tokens", "dkim_selectors", "mail_from_domain", "min_dmarc_policy", "spf_includes")
POLICIES = ("none", "quarantine", "reject")
# SES Easy DKIM tokens are 32 lower-case base32-like characters; accept any DNS label so a
# future format does not break the check, but reject what cannot be a label.
_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


@dataclass(frozen=True)
class Expectations:
    domain: str | None = None
    region: str | None = None
    dkim_tokens: tuple[str, ...] = ()
    dkim_selectors: tuple[str, ...] = ()
    mail_from_domain: str | None = None
    min_dmarc_policy: str | None = None
    spf_includes: tuple[str, ...] = ("amazonses.com",)
    source: str | None = None


def known_regions() -> list[str]:
    """Return the regions where botocore's endpoint data lists the SES v2 API."""
    import botocore.session  # botocore ships with the `ses` extra

    return botocore.session.get_session().get_available_regions("sesv2")


def _string(table: dict, key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: {key} must be a non-empty string, found {value!r}")
    return value.strip()


def _labels(table: dict, key: str, where: str) -> tuple[str, ...]:
    value = table.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(f"{where}: {key} must be a list of strings, found {value!r}")
    for item in value:
        if not _LABEL.match(item):
            raise InputError(f"{where}: {key} entry {item!r} is not a DNS label (letters, digits, '-' and '_', at most 63)")
    return tuple(item.lower() for item in value)


def parse_expectations(table: dict, where: str) -> Expectations:
    """Validate one expectations table; errors name the file and the key."""
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; known keys are {', '.join(KEYS)}")

    domain = _string(table, "domain", where)
    mail_from = _string(table, "mail_from_domain", where)
    region = _string(table, "region", where)
    if region is not None:
        try:
            regions = known_regions()
        except ImportError:
            regions = None
        if regions is not None and region not in regions:
            raise InputError(f"{where}: region {region!r} is not a region where SES is offered; use one of {', '.join(regions)}")

    policy = _string(table, "min_dmarc_policy", where)
    if policy is not None and policy.lower() not in POLICIES:
        raise InputError(f"{where}: min_dmarc_policy must be one of {', '.join(POLICIES)}, found {policy!r}")

    includes = table.get("spf_includes", ["amazonses.com"])
    if not isinstance(includes, list) or not all(isinstance(item, str) for item in includes):
        raise InputError(f"{where}: spf_includes must be a list of domains, found {includes!r}")

    tokens = _labels(table, "dkim_tokens", where)
    if tokens and len(tokens) != 3:
        raise InputError(f"{where}: dkim_tokens must list the 3 Easy DKIM tokens, found {len(tokens)}")

    return Expectations(
        domain=to_ascii_domain(domain, f"{where}: domain") if domain else None,
        region=region,
        dkim_tokens=tokens,
        dkim_selectors=_labels(table, "dkim_selectors", where),
        mail_from_domain=to_ascii_domain(mail_from, f"{where}: mail_from_domain") if mail_from else None,
        min_dmarc_policy=policy.lower() if policy else None,
        spf_includes=tuple(to_ascii_domain(item, f"{where}: spf_includes") for item in includes),
        source=where,
    )


def load_expectations(path: str | Path) -> Expectations:
    """Read an expectations TOML file, or `[tool.maildiag]` from a pyproject.toml."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError(f"{path}: expectations file not found") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read the expectations file: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{path}: invalid TOML: {error}") from None
    except UnicodeDecodeError as error:
        # TOML 1.0 documents are UTF-8; tomllib raises this before any TOML parsing.
        raise InputError(f"{path}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start}); save the expectations file as UTF-8 TOML") from None

    if path.name == "pyproject.toml":
        table = document.get("tool", {}).get("maildiag")
        if not isinstance(table, dict):
            raise InputError(f"{path}: no [tool.maildiag] table; add one with domain, region and dkim_tokens")
        return parse_expectations(table, f"{path} [tool.maildiag]")
    return parse_expectations(document, str(path))
