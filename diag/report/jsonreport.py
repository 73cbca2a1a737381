"""JSON report: the report dictionary as it is, described by reports/schema/report.schema.json."""

import json
from typing import TextIO


def render(report: dict, stream: TextIO) -> None:
    """Write `report` as indented JSON with sorted keys, so that two runs diff cleanly."""
    # ensure_ascii keeps the output encodable whatever the stream's encoding, and escapes
    # lone surrogates that undecodable header bytes can leave in a string.
    json.dump(report, stream, indent=2, sort_keys=True, ensure_ascii=True)
    stream.write("\n")
