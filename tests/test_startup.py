"""Start-up cost of `maildiag analyze`: heavy libraries stay out of its import path."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "headers" / "ses-to-m365-spoof.txt"

# Run the CLI in-process so sys.modules can be inspected after the command returns.
PROBE = """
import json, sys
from diag.cli import cli
try:
    cli(["analyze", sys.argv[1], "--offline", "--format", "json"], prog_name="maildiag")
except SystemExit:
    pass
heavy = sorted(name for name in sys.modules if name.split(".")[0] in {"boto3", "botocore", "checkdmarc", "dkim", "spf", "nacl"})
print(json.dumps(heavy), file=sys.stderr)
"""


def test_analyze_imports_no_heavy_library():
    done = subprocess.run([sys.executable, "-c", PROBE, str(SAMPLE)], capture_output=True, text=True, cwd=ROOT)
    heavy = json.loads(done.stderr.strip().splitlines()[-1])
    assert heavy == []
