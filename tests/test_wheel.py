"""The wheel carries rules/ and reports/: install it in a fresh venv and run it elsewhere."""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "headers" / "ses-to-m365-spoof.txt"


@pytest.mark.slow
def test_wheel_installs_and_analyzes(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(dist.glob("maildiag-*.whl"))

    # A fresh venv gets only the wheel; its dependencies come from this test run's
    # site-packages through PYTHONPATH, which processes no .pth file, so the editable
    # install of the source tree stays invisible.
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(SAMPLE, outside / "sample.txt")
    env = dict(os.environ, PYTHONPATH=sysconfig.get_paths()["purelib"], NO_COLOR="1")
    where = subprocess.run([str(python), "-c", "import diag; print(diag.__file__)"], capture_output=True, text=True, cwd=outside, env=env)
    assert str(target) in where.stdout

    done = subprocess.run(
        [str(target / "bin" / "maildiag"), "analyze", "sample.txt", "--offline", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=outside,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    assert '"dkim-only-esp-signature"' in done.stdout
