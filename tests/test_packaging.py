"""pyproject.toml lists its packages by hand (rules/ and reports/ are mapped into the
wheel), so every package folder under diag/ must be named there."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "diag").rglob("__init__.py")
    }
    assert on_disk - listed == set()
