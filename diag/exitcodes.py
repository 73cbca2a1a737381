"""Exit codes that CI jobs can rely on."""

OK = 0
# Findings at or above --fail-on.
FINDINGS = 1
# Usage error, unreadable input or an invalid rule file.
USAGE = 2
# A DNS or AWS lookup failed temporarily and nothing failed outright.
COULD_NOT_CHECK = 3
