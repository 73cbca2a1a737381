"""Decode Microsoft 365 header codes with the versioned tables in rules/tables/*.yaml.

Each table names its sources (Microsoft Learn address and page date) once, and every
entry refers to one of them. A value that no entry covers is returned with
documented: false and no meaning, so that nothing is guessed.
"""

import functools
import logging

import yaml

from diag.paths import data_path

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def load(name: str) -> dict:
    """Return the parsed table rules/tables/<name>.yaml."""
    path = data_path("rules") / "tables" / f"{name}.yaml"
    # libyaml's CSafeLoader reads the same documents as yaml.safe_load about eight times
    # faster; the tables took 20 ms of `maildiag analyze` start-up with the Python loader.
    # It is absent only when PyYAML was built without libyaml.
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _described(table: dict, value, entry: dict | None) -> dict:
    """Build the {value, meaning, documented, source, doc_date} record of one entry."""
    if entry is None:
        return {"value": value, "meaning": None, "documented": False, "source": None, "doc_date": None}

    source = table["sources"][entry["source"]]
    decoded = {
        "value": value,
        "meaning": entry["meaning"],
        "documented": entry.get("documented", True),
        "source": source["url"],
        "doc_date": source["doc_date"],
    }
    for optional in ("group", "note"):
        if optional in entry:
            decoded[optional] = entry[optional]
    return decoded


def decode_code(name: str, value: str) -> dict:
    """Decode a word-valued field (CAT, SFV, IPV, SFTY) with the `values` map of a table."""
    table = load(name)
    entry = table["values"].get(value.upper() if name != "sfty" else value)
    return _described(table, value, entry)


def decode_level(name: str, value: int) -> dict:
    """Decode a numeric level (SCL, BCL) with the inclusive `ranges` of a table."""
    table = load(name)
    for entry in table["ranges"]:
        if entry["low"] <= value <= entry["high"]:
            return _described(table, value, entry)
    return _described(table, value, None)


def decode_compauth(reason: str) -> dict:
    """Decode a compauth reason: an exact code first, else the group of its first digit.

    rules/tables/compauth.yaml contains the codes and first-digit groups that its source
    revision of Microsoft's "Anti-spam message headers" page documents. A reason that
    matches neither is returned with documented: false.
    """
    table = load("compauth")
    entry = table["codes"].get(reason)
    if entry is None and len(reason) == 3 and reason.isdigit():
        entry = table["groups"].get(reason[0])
    return _described(table, reason, entry)
