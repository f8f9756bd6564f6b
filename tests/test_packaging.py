"""The package installs from its wheel: build a wheel and an sdist, install the wheel (not the
checkout) into a fresh virtual environment whose torch and other dependencies come from this
one, and run the command line, a short training and the README's doctests against it. A file
missing from the package data fails here."""

import email
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _version() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def _run(args, cwd, env=None, timeout=600):
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_version_is_the_one_in_pyproject():
    import quotient
    from quotient.cli import main

    assert quotient.__version__ == _version()
    with pytest.raises(SystemExit):  # argparse's --version exits; main() turns it into 0
        from quotient.cli._parser import build_parser

        build_parser().parse_args(["--version"])
    assert main(["--version"]) == 0


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_fresh_environment(tmp_path):
    pytest.importorskip("build")
    dist = tmp_path / "dist"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    source = tmp_path / "source"  # build from a copy: nothing is written into the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "site", "runs", "*.egg-info", "__pycache__", ".*cache"))
    done = _run([sys.executable, "-m", "build", "--outdir", dist, source], tmp_path, env)
    assert "SetuptoolsDeprecationWarning" not in done.stdout + done.stderr
    wheel = next(dist.glob("quotient-*.whl"))
    sdist = next(dist.glob("quotient-*.tar.gz"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = email.message_from_bytes(zf.read(f"quotient-{_version()}.dist-info/METADATA"))
    assert "quotient/data/bundled/mnist_sample.npz" in names and "quotient/py.typed" in names
    assert meta["License-Expression"] == "BSD-3-Clause" and meta["Version"] == _version()
    assert any(n.endswith("licenses/LICENSE") for n in names)
    with tarfile.open(sdist) as tf:
        assert f"quotient-{_version()}/LICENSE" in tf.getnames()

    # A fresh environment; this one's site-packages (torch and the other dependencies) is
    # appended to its path, after its own site-packages, where the wheel goes.
    fresh = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(fresh)
    py = fresh / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp_path).stdout.strip())
    (site / "_outer_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel], tmp_path)
    work = tmp_path / "work"  # not the checkout: its src/ must not be importable
    work.mkdir()
    where = _run([py, "-c", "import quotient; print(quotient.__file__, quotient.__version__)"],
                 work).stdout.split()
    assert where[0].startswith(str(site)) and where[1] == _version()
    qbin = fresh / "bin" / "quotient"
    assert _run([qbin, "--version"], work).stdout.strip() == f"quotient {_version()}"
    assert "rotated-mnist" in _run([qbin, "list"], work).stdout
    _run([qbin, "train", "rotated-mnist", "--out", work / "run", "--set", "train.max_steps=3",
          "train.batch_size=16", "n_train=64", "n_test=32", "check_samples=16", "embedding=pca",
          "threads=1", "train.progress=false"], work, dict(env, OMP_NUM_THREADS="1"))
    assert (work / "run" / "report.html").is_file()
    shutil.copy(ROOT / "README.md", work / "README.md")
    _run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
          "--doctest-glob=README.md", "--rootdir", work, "-o", "doctest_optionflags=ELLIPSIS "
          "NORMALIZE_WHITESPACE", "README.md"], work, env)
