"""Run every test that starts processes N times in a row and report each test's failures.

    python scripts/stress_processes.py            # 50 rounds of `pytest -m processes`
    python scripts/stress_processes.py -n 20 -k ddp --json stress.json

Each round is a fresh pytest process, so every round starts its ranks, torchrun jobs and CLI
subprocesses from scratch. A test counts as flaky if it fails in any round; the exit status is
1 then. Not part of the test suite (it takes a while): run it after touching code that starts
processes (DistributedDataParallel, run_on_ranks, torchrun, signals) or depends on timing.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED)\s+(\S+)")


def one_round(marker: str, keyword: str | None) -> tuple[dict[str, str], str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-m", marker,
           "tests"]
    if keyword:
        cmd += ["-k", keyword]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    outcomes: dict[str, str] = {}
    for line in done.stdout.splitlines():
        m = RESULT.match(line)
        if m:
            outcomes[m.group(2)] = m.group(1)
    if done.returncode not in (0, 1) or not outcomes:
        outcomes["<pytest>"] = f"EXIT {done.returncode}"
    return outcomes, done.stdout[-4000:] + done.stderr[-4000:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--rounds", type=int, default=50)
    parser.add_argument("-m", "--marker", default="processes")
    parser.add_argument("-k", "--keyword", default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the summary here")
    parser.add_argument("--logs", type=Path, default=None,
                        help="folder for the output of failed rounds")
    args = parser.parse_args(argv)
    passed, failed = Counter(), Counter()
    started = time.perf_counter()
    for r in range(1, args.rounds + 1):
        outcomes, tail = one_round(args.marker, args.keyword)
        bad = sorted(t for t, o in outcomes.items() if o not in ("PASSED", "SKIPPED"))
        for test, outcome in outcomes.items():
            (passed if outcome in ("PASSED", "SKIPPED") else failed)[test] += 1
        print(f"round {r}/{args.rounds}: {len(outcomes) - len(bad)} passed, {len(bad)} failed"
              + (f" ({', '.join(bad)})" if bad else ""), flush=True)
        if bad and args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            (args.logs / f"round-{r}.txt").write_text(tail)
    minutes = (time.perf_counter() - started) / 60
    tests = sorted(set(passed) | set(failed))
    print(f"\n{args.rounds} rounds in {minutes:.1f} min; {len(tests)} tests")
    for test in tests:
        print(f"  {passed[test]:3d} passed {failed[test]:3d} failed  {test}")
    if args.json:
        args.json.write_text(json.dumps({
            "rounds": args.rounds, "marker": args.marker, "keyword": args.keyword,
            "minutes": round(minutes, 2),
            "tests": {t: {"passed": passed[t], "failed": failed[t]} for t in tests}}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
