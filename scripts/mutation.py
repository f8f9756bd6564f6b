"""Mutation testing of the core: do the tests catch real bugs?

    pip install -e '.[test,dev]'                       # mutmut, pinned in the dev extra
    python scripts/mutation.py                         # every module, in priority order
    python scripts/mutation.py checker symmetry        # some modules
    python scripts/mutation.py nn --sample 600         # 600 of nn/'s mutants, drawn with a seed
    python scripts/mutation.py checker --survivors     # after adding tests: re-run only what
                                                       # the last run did not catch
    python scripts/mutation.py --report-only           # re-read the last runs, rewrite the JSON

Each module is mutated by mutmut against its mirrored tests only (the table ``MODULES``
below), with one worker, in a scratch copy of the repository under ``.mutation/<module>/``:
``src/`` itself is never touched (the copy is of the working tree, or of ``--ref``). A mutant
is *killed* when a test fails on it, *survives* when every test passes, *times out* when its
tests run past mutmut's CPU limit (counted as caught: the mutant broke termination), and has
*no tests* when no mirrored test runs the mutated function (counted as surviving). Every
mutant's result is kept in ``.mutation/<module>.status.json`` with a hash of the mutated
files; ``--survivors`` re-runs only the mutants not caught (more tests can catch more, never
fewer) and refuses to reuse results when the sources changed.

A surviving mutant that cannot change behaviour (an equivalent mutant) is listed, with a
one-line reason, in ``scripts/mutation_equivalent.json``; entries are matched by the function
and the diff (changed lines with their context), so they outlive mutmut's renumbering. The
score of a module is

    (killed + timeouts) / (all mutants − equivalent ones)

and the summary (counts, score, every survivor with its diff and reason, wall-clock time) goes
to ``benchmarks/results/mutation.json``. Read it as: ``survived`` and ``no tests`` are the
mutants no test catches and nobody has explained; each is either a missing test or a new
equivalent mutant to justify. Not part of the test suite: a full run takes about two hours on
two cores. To look at one mutant: ``cd .mutation/<module> && mutmut show <mutant name>``.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
EQUIVALENT = ROOT / "scripts" / "mutation_equivalent.json"
RESULT = ROOT / "benchmarks" / "results" / "mutation.json"

# name -> files to mutate (and, where only part of a file is meant, the mutants to run, as
# globs), the mirrored tests, tests left out of the run (and why); in priority order
MODULES: dict[str, dict] = {
    "checker": {"mutate": ["src/quotient/testing/checker.py"],
                "tests": ["tests/test_checker.py"]},
    "symmetry": {"mutate": ["src/quotient/symmetry.py"],
                 "tests": ["tests/test_symmetry_contract.py"]},
    "actions": {"mutate": ["src/quotient/actions/*.py"],
                "tests": ["tests/actions"]},
    "groups": {"mutate": ["src/quotient/groups/*.py"],
               "tests": ["tests/groups"]},
    "solver": {"mutate": ["src/quotient/dynamics/solver.py", "src/quotient/dynamics/_linalg.py"],
               # the solver, and the two SVD kernels whose rank tolerance it relies on
               "select": ["quotient.dynamics.solver.*",
                          "quotient.dynamics._linalg.x_null_space__mutmut_*",
                          "quotient.dynamics._linalg.x_orthonormalize__mutmut_*"],
               "tests": ["tests/dynamics/test_dynamics_solver.py"],
               # the slowest case by far (S6 acting on its 720-dim regular representation, tens
               # of seconds per mutant); the same property is checked on S5 and smaller groups
               "deselect": ["tests/dynamics/test_dynamics_solver.py::"
                            "test_dimension_matches_character_formula[S6:regular->standard]"]},
    "nn": {"mutate": ["src/quotient/nn/*.py"],
           "tests": ["tests/nn"]},
}

# mutmut's exit codes. 255 is *not* a timeout here: the forkserver worker exits with -1 (255)
# when the test run itself fails to start (e.g. a test id pytest cannot find), so it counts as
# not caught, like any other unknown code.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
          34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          None: "not checked"}


def _mutmut() -> list[str]:
    exe = Path(sys.executable).with_name("mutmut")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mutmut"]


def _version() -> str:
    from importlib.metadata import version

    return f"mutmut {version('mutmut')}"


def prepare(name: str, spec: dict, ref: str | None) -> Path:
    """A fresh scratch copy of the repository's code and tests with mutmut's settings."""
    work = WORK / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    parts = ["src", "tests", "conftest.py", "pyproject.toml"]
    if ref:
        archive = subprocess.run(["git", "archive", ref, *parts], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
    else:
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
        for part in parts:
            src = ROOT / part
            if src.is_dir():
                shutil.copytree(src, work / part, ignore=ignore)
            else:
                shutil.copy2(src, work / part)
    if "[tool.mutmut]" in (work / "pyproject.toml").read_text():
        raise SystemExit("pyproject.toml has a [tool.mutmut] table; this script configures "
                         "mutmut in setup.cfg of its scratch copy, remove the table")
    # test ids keep their non-ASCII characters (the groups' tests are named "C4 × D3"): mutmut
    # passes the ids it recorded back to pytest, and escaped ones ("\\xd7") are not found
    pytest_args = ["-p", "no:cacheprovider",
                   "-o", "disable_test_id_escaping_and_forfeit_all_rights_to_community_support=1"]
    pytest_args += [f"--deselect={t}" for t in spec.get("deselect", [])]

    def lines(values: list[str]) -> str:
        return "".join(f"\n    {v}" for v in values)

    (work / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths = src\n"
        f"only_mutate ={lines(spec['mutate'])}\n"
        "also_copy = conftest.py\n"
        f"pytest_add_cli_args_test_selection ={lines(spec['tests'])}\n"
        f"pytest_add_cli_args ={lines(pytest_args)}\n"
        "process_isolation = forkserver\n"
        # CPU seconds a mutant may take: (its tests' time + 1 s) × 5 × 2 (mutmut's default
        # factor 15 lets each infinite loop burn minutes)
        "timeout_multiplier = 5.0\n"
        "use_git_change_detection = false\n")
    return work


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # one thread: the run uses one worker, and forked children never meet a torch thread pool
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    return env


def _meta(work: Path) -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for meta in sorted((work / "mutants").rglob("*.meta")):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def _selected(codes: dict[str, int | None], spec: dict) -> dict[str, int | None]:
    globs = spec.get("select")
    if not globs:
        return codes
    return {m: c for m, c in codes.items() if any(fnmatch.fnmatch(m, g) for g in globs)}


def _sources(work: Path, spec: dict) -> dict[str, str]:
    """sha256 of every mutated file: mutant names are only comparable between runs on the same
    sources."""
    return {str(p.relative_to(work)): hashlib.sha256(p.read_bytes()).hexdigest()
            for pattern in spec["mutate"] for p in sorted(work.glob(pattern))}


def _state_path(name: str) -> Path:
    return WORK / f"{name}.status.json"


def _run_mutmut(work: Path, names: list[str], out: Any) -> int:
    return subprocess.run([*_mutmut(), "run", "--max-children", "1", *names], cwd=work,
                          env=_env(), stdout=out, stderr=subprocess.STDOUT,
                          check=False).returncode


def run_module(name: str, spec: dict, args: argparse.Namespace, log: Path) -> float:
    """Mutate one module in a fresh scratch copy; record every mutant's exit code in
    ``.mutation/<module>.status.json``."""
    work = prepare(name, spec, args.ref)
    sources = _sources(work, spec)
    previous = None
    if args.survivors and _state_path(name).exists():
        previous = json.loads(_state_path(name).read_text())
        if previous["sources"] != sources:
            print(f"{name}: the sources changed since the last run; running every mutant",
                  flush=True)
            previous = None
    start = time.monotonic()
    sample = None
    with log.open("w") as out:
        if previous is not None:
            # only what was not caught last time: more tests can catch more, never fewer
            names = sorted(m for m, c in previous["codes"].items()
                           if STATUS.get(c, "other") not in ("killed", "timeout"))
            sample = previous.get("sample")
            print(f"{name}: re-running the {len(names)} mutants not caught last time",
                  flush=True)
        elif args.sample is not None:
            # generate the mutants and the test statistics with a run whose filter matches
            # nothing (mutmut stops there with an assertion), then draw the sample
            _run_mutmut(work, ["no.such.mutant*"], out)
            every = sorted(_selected(_meta(work), spec))
            names = sorted(random.Random(args.seed).sample(every, min(args.sample, len(every))))
            sample = {"seed": args.seed, "of": len(every), "size": len(names)}
        else:
            names = list(spec.get("select", []))
        code = _run_mutmut(work, names, out) if names or previous is None else 0
    wall = time.monotonic() - start
    if code != 0:
        print(f"{name}: mutmut exited with {code}; see {log}", file=sys.stderr)
    codes = _selected(_meta(work), spec)
    if previous is not None:
        codes = {**previous["codes"], **{m: codes.get(m) for m in names}}
    elif sample is not None:
        codes = {m: codes.get(m) for m in names}
    full = wall if previous is None else previous.get("wall_seconds_full_run")
    _state_path(name).write_text(json.dumps(
        {"sources": sources, "sample": sample, "incremental": previous is not None,
         "wall_seconds_full_run": full, "wall_seconds_last_run": round(wall, 1),
         "codes": codes}, indent=1))
    return wall


_HEADER = re.compile(r"^(---|\+\+\+|@@)")


_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
out = {}
for name in json.load(sys.stdin):
    try:
        out[name] = get_diff_for_mutant(name, path=find_mutant(name).path)
    except Exception as exc:  # a mutant mutmut cannot show: say so instead of failing
        out[name] = f"(no diff: {exc})"
print(json.dumps(out))
"""


def diffs(work: Path, mutants: list[str]) -> dict[str, str]:
    """Each mutant's diff, computed in one process in the scratch copy (``mutmut show`` per
    mutant takes a second each)."""
    if not mutants:
        return {}
    done = subprocess.run([sys.executable, "-c", _DIFFS], cwd=work, env=_env(),
                          input=json.dumps(mutants), capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:  # mutmut's internals moved: fall back to its command
        return {m: subprocess.run([*_mutmut(), "show", m], cwd=work, env=_env(),
                                  capture_output=True, text=True, check=False).stdout.strip()
                for m in mutants}
    return json.loads(done.stdout.strip().splitlines()[-1])


def diff_body(diff: str) -> list[str]:
    """A mutant's identity: its diff's changed lines and their context, whitespace-normalised,
    without the file names and line numbers (so it survives edits elsewhere in the file)."""
    return [" ".join(line.split()) for line in diff.splitlines()
            if line.strip() and not _HEADER.match(line)]


def function_of(mutant: str) -> str:
    """``quotient.x.y.x_fn__mutmut_12`` -> ``quotient.x.y.x_fn``."""
    return mutant.rsplit("__mutmut_", 1)[0]


def load_equivalent() -> list[dict]:
    if not EQUIVALENT.exists():
        return []
    return json.loads(EQUIVALENT.read_text())["equivalent"]


def reason_for(mutant: str, diff: str, known: list[dict]) -> str | None:
    body = diff_body(diff)
    for entry in known:
        if function_of(entry["mutant"]) == function_of(mutant) and \
                diff_body(entry["diff"]) == body:
            return entry["reason"]
    return None


def summarise(name: str, spec: dict, known: list[dict]) -> dict:
    work = WORK / name
    state = json.loads(_state_path(name).read_text())
    codes, sampled = state["codes"], state["sample"]
    counts = {"killed": 0, "timeout": 0, "survived": 0, "no tests": 0, "equivalent": 0,
              "other": 0}
    survivors = []
    shown = diffs(work, [m for m, code in codes.items() if STATUS.get(code, "other") not in
                         ("killed", "timeout")])
    for mutant, code in sorted(codes.items()):
        status = STATUS.get(code, "other")
        if status in ("survived", "no tests"):
            diff = shown[mutant]
            reason = reason_for(mutant, diff, known)
            if reason is not None:
                counts["equivalent"] += 1
            else:
                counts[status] += 1
            survivors.append({"mutant": mutant, "status": status, "diff": diff,
                              "equivalent": reason is not None, "reason": reason})
        elif status in counts:
            counts[status] += 1
        else:
            counts["other"] += 1
            survivors.append({"mutant": mutant, "status": f"exit code {code}",
                              "diff": shown[mutant], "equivalent": False, "reason": None})
    total = len(codes)
    relevant = total - counts["equivalent"]
    caught = counts["killed"] + counts["timeout"]
    result = {"mutate": spec["mutate"], **({"select": spec["select"]} if "select" in spec else {}),
              "tests": spec["tests"],
              "deselected": spec.get("deselect", []), "mutants": total, **counts,
              "score": round(caught / relevant, 4) if relevant else None,
              "survivors": survivors}
    if sampled is not None:
        result["sample"] = {**sampled,
                            "note": "score over a random sample of the module's mutants"}
    if state.get("incremental"):
        result["incremental"] = ("the last run re-ran only the mutants the run before it did "
                                 "not catch, on unchanged sources")
    full = state.get("wall_seconds_full_run")
    result["wall_seconds_full_run"] = round(full, 1) if full is not None else None
    result["wall_seconds_last_run"] = state.get("wall_seconds_last_run")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=[],
                        help=f"which modules (default: all, in this order: {', '.join(MODULES)})")
    parser.add_argument("--sample", type=int, default=None,
                        help="mutate only this many randomly chosen mutants per module")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample")
    parser.add_argument("--survivors", action="store_true",
                        help="re-run only the mutants the last run of each module did not "
                             "catch (after adding tests; the sources must be unchanged)")
    parser.add_argument("--ref", default=None,
                        help="mutate this git commit instead of the working tree")
    parser.add_argument("--report-only", action="store_true",
                        help="summarise the last run in .mutation/ without running anything")
    parser.add_argument("--json", type=Path, default=RESULT, help="where the summary goes")
    args = parser.parse_args(argv)
    names = args.modules or list(MODULES)
    if unknown := [n for n in names if n not in MODULES]:
        parser.error(f"unknown module(s) {unknown}; choose from {list(MODULES)}")
    known = load_equivalent()

    previous = json.loads(args.json.read_text()) if args.json.exists() else {}
    modules = previous.get("modules", {})
    start = time.monotonic()
    for name in names:
        if not args.report_only:
            WORK.mkdir(exist_ok=True)
            print(f"{name}: mutating {', '.join(MODULES[name]['mutate'])} ...", flush=True)
            run_module(name, MODULES[name], args, WORK / f"{name}.log")
        if not _state_path(name).exists() or not (WORK / name / "mutants").exists():
            print(f"{name}: no run in {WORK / name}", file=sys.stderr)
            continue
        modules[name] = summarise(name, MODULES[name], known)
        m = modules[name]
        print(f"{name}: {m['mutants']} mutants, {m['killed']} killed, {m['timeout']} timeouts, "
              f"{m['survived']} survived, {m['no tests']} untested, {m['equivalent']} "
              f"equivalent: score {m['score']}", flush=True)

    keys = ("mutants", "killed", "timeout", "survived", "no tests", "equivalent", "other")
    overall = {k: sum(m[k] for m in modules.values()) for k in keys}
    relevant = overall["mutants"] - overall["equivalent"]
    overall["score"] = round((overall["killed"] + overall["timeout"]) / relevant, 4) \
        if relevant else None
    summary = {
        "tool": _version(),
        "command": "python scripts/mutation.py " + " ".join(argv if argv is not None
                                                             else sys.argv[1:]),
        "score": "(killed + timeouts) / (mutants - equivalent); 'no tests' counts as surviving",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "workers": 1},
        "modules": {k: modules[k] for k in MODULES if k in modules},
        "overall": overall,
    }
    fulls = [m.get("wall_seconds_full_run") for m in summary["modules"].values()]
    summary["wall_seconds_full_runs"] = round(sum(fulls), 1) if None not in fulls else None
    if not args.report_only:
        summary["wall_seconds_this_run"] = round(time.monotonic() - start, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    print(f"overall: score {overall['score']} ({overall['killed'] + overall['timeout']} caught "
          f"of {relevant} non-equivalent mutants); summary in {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
