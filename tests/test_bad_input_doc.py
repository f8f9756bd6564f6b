"""docs/bad_input.md is generated from the tests' case tables and must be current."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_bad_input_page_matches_the_case_tables():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bad_input_table.py"),
                           "--check"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
