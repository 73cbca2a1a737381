"""Read an application's SES settings (TOML, JSON or environment) and check them offline.

The five settings and where they are read from:

    field             file key (any of)                                   environment
    FromAddress       FromAddress, from_address, SES_FROM_ADDRESS         SES_FROM_ADDRESS
    Region            Region, region, SES_REGION                          SES_REGION, else AWS_REGION
    AccessKeyId       AccessKeyId, access_key_id, AWS_ACCESS_KEY_ID       AWS_ACCESS_KEY_ID
    SecretAccessKey   SecretAccessKey, secret_access_key, AWS_SECRET_...  AWS_SECRET_ACCESS_KEY
    ConfigurationSet  ConfigurationSet, configuration_set, SES_CONF...    SES_CONFIGURATION_SET

File keys match case-insensitively, and the settings may sit at the top level or in one table
named `ses` (`[ses]` in TOML, `{"ses": {...}}` in JSON). The environment also accepts the five
field names themselves (`FromAddress=...`).
"""

import json
import logging
import os
import re
import tomllib
from dataclasses import dataclass, field
from email.headerregistry import HeaderRegistry
from pathlib import Path

from diag.errors import InputError
from diag.ses.redact import register_secret
from diag.ses.regions import unknown_region_hint

log = logging.getLogger(__name__)

FIELDS = ("FromAddress", "Region", "AccessKeyId", "SecretAccessKey", "ConfigurationSet")
ENVIRONMENT = {
    "FromAddress": ("SES_FROM_ADDRESS", "FromAddress"),
    "Region": ("SES_REGION", "AWS_REGION", "Region"),
    "AccessKeyId": ("AWS_ACCESS_KEY_ID", "AccessKeyId"),
    "SecretAccessKey": ("AWS_SECRET_ACCESS_KEY", "SecretAccessKey"),
    "ConfigurationSet": ("SES_CONFIGURATION_SET", "ConfigurationSet"),
}
_SNAKE = {"FromAddress": "from_address", "Region": "region", "AccessKeyId": "access_key_id",
          "SecretAccessKey": "secret_access_key", "ConfigurationSet": "configuration_set"}

# Access key ids are 20 upper-case characters; AKIA marks a long-term key, ASIA a temporary
# one that also needs a session token (IAM User Guide, "Understanding unique ID prefixes").
_ACCESS_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")
_SECRET_ACCESS_KEY = re.compile(r"^[A-Za-z0-9/+]{40}$")
# SES configuration set names: ASCII letters, digits, underscores and dashes, at most 64
# characters (SES API reference, CreateConfigurationSet).
_CONFIGURATION_SET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class AppConfig:
    """The five settings as read; a value is None when the setting is absent or empty."""

    values: dict[str, str | None]
    source: str
    # Keys seen in the file or environment that fed each field, for messages.
    keys: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def _aliases(name: str) -> set[str]:
    return {name.lower(), _SNAKE[name], ENVIRONMENT[name][0].lower()}


def _pick(mapping: dict, source: str) -> AppConfig:
    table = mapping
    if not any(key.lower() in _aliases(name) for key in mapping for name in FIELDS):
        nested = [value for key, value in mapping.items() if key.lower() == "ses" and isinstance(value, dict)]
        if nested:
            table = nested[0]

    values, keys = {}, {}
    for name in FIELDS:
        for key, value in table.items():
            if key.lower() in _aliases(name):
                if value is not None and not isinstance(value, str):
                    raise InputError(f"{source}: {key} must be a string, found {type(value).__name__}")
                values[name] = value.strip() if value and value.strip() else None
                keys[name] = key
                break
        else:
            values[name] = None
    register_secret(values.get("SecretAccessKey"))
    return AppConfig(values=values, source=source, keys=keys)


def load_file(path: str) -> AppConfig:
    """Read settings from a TOML or JSON file; the suffix picks the parser, TOML by default."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}") from None

    if path.lower().endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            # The TOML error text quotes no values, only the position.
            raise InputError(f"{path}: invalid TOML: {error}; use a .json suffix for JSON files") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a table of settings at the top level, found {type(data).__name__}")
    return _pick(data, path)


def load_environment(environ: dict | None = None) -> AppConfig:
    """Read settings from environment variables (names in this module's docstring)."""
    environ = os.environ if environ is None else environ
    values, keys = {}, {}
    for name, variables in ENVIRONMENT.items():
        values[name] = None
        for variable in variables:
            value = environ.get(variable)
            if value and value.strip():
                values[name] = value.strip()
                keys[name] = variable
                break
    register_secret(values.get("SecretAccessKey"))
    return AppConfig(values=values, source="environment", keys=keys)


def parse_from_address(value: str) -> tuple[str | None, str | None]:
    """Return (addr-spec, problem) for a From value such as `Name <user@example.com>`."""
    try:
        header = HeaderRegistry()("From", value)
    except (ValueError, IndexError, TypeError) as error:
        return None, f"cannot be parsed as an address ({error})"
    if header.defects:
        return None, f"is not a valid RFC 5322 address ({header.defects[0].__class__.__name__})"
    if len(header.addresses) != 1:
        return None, f"must contain exactly one address, found {len(header.addresses)}"
    address = header.addresses[0]
    if not address.username or not address.domain:
        return None, "must be a full address, local-part@domain"
    if "." not in address.domain or address.domain.startswith("["):
        return None, f"domain {address.domain!r} is not a fully qualified domain name"
    if not address.username.isascii():
        # SES accepts internationalised domains in Punycode but not a UTF-8 local part
        # (SES API reference, SendEmail: FromEmailAddress).
        return None, "local part contains non-ASCII characters, which SES does not accept"
    return address.addr_spec, None


def mask_key_id(value: str | None) -> str | None:
    """Return an access key id with its middle hidden, e.g. AKIA************MPLE."""
    if not value:
        return None
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def check_offline(config: AppConfig, regions: list[str]) -> tuple[dict, list[dict]]:
    """Return (facts, problems) from the settings alone; `regions` lists the SES regions."""
    problems: list[dict] = []
    facts: dict = {"source": config.source, "fields": {}}

    def problem(name: str, text: str, fix: str) -> None:
        problems.append({"field": name, "problem": text, "fix": fix})

    for name in FIELDS:
        present = config.get(name) is not None
        facts["fields"][name] = {"present": present, "key": config.keys.get(name)}
        # SES sends without a configuration set; the rule ses-config-no-configuration-set
        # reports the missing event publishing as a warning, not as a broken setting.
        if not present and name != "ConfigurationSet":
            variables = " or ".join(ENVIRONMENT[name][:-1])
            problem(name, "missing or empty", f"set {name} (environment: {variables})")

    from_value = config.get("FromAddress")
    if from_value:
        address, text = parse_from_address(from_value)
        if text:
            problem("FromAddress", f"{from_value!r} {text}", "use an address such as noreply@example.com or \"Example <noreply@example.com>\"")
        else:
            facts["from_address"] = address
            facts["from_domain"] = address.rpartition("@")[2].lower()

    region = config.get("Region")
    if region:
        facts["region"] = region
        if region not in regions:
            problem("Region", f"{region!r} is not a region where SES is offered", unknown_region_hint(region, regions))

    key_id = config.get("AccessKeyId")
    if key_id:
        facts["access_key_id"] = mask_key_id(key_id)
        match = _ACCESS_KEY_ID.match(key_id)
        if not match:
            problem("AccessKeyId", f"{mask_key_id(key_id)} is not an access key id (20 upper-case characters starting AKIA)", "copy the key id from the IAM console or `aws iam list-access-keys`")
        elif match.group(1) == "ASIA":
            problem("AccessKeyId", f"{mask_key_id(key_id)} is a temporary key that needs a session token, which these five settings cannot carry", "create a long-term access key (AKIA...) for the sending IAM user")

    secret = config.get("SecretAccessKey")
    if secret and not _SECRET_ACCESS_KEY.match(secret):
        # The value is never shown, only its length.
        problem("SecretAccessKey", f"is not a secret access key ({len(secret)} characters; a secret access key is 40 base64 characters)", "copy the secret shown once when the access key was created, or create a new key")

    configuration_set = config.get("ConfigurationSet")
    if configuration_set:
        facts["configuration_set"] = configuration_set
        if not _CONFIGURATION_SET.match(configuration_set):
            problem("ConfigurationSet", f"{configuration_set!r} is not a valid configuration set name (letters, digits, _ and -, at most 64)", "use the name shown in the SES console under Configuration sets")

    return facts, problems
