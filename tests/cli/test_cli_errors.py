"""Every error a user can cause is one line on stderr with exit status 2; bugs keep tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli_helpers import run_quotient

from quotient import experiments
from quotient.cli import main
from quotient.experiments import Experiment


def _existing_run(path):
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"experiment": "digits-c4", "kind": "train",
                                                  "config": {}}))
    (path / "keep.txt").write_text("old")
    return path


CASES = {
    "unknown experiment": (["train", "nope", "--out", "{tmp}/o"],
                           "unknown experiment 'nope'; known experiments: "),
    "unknown --set key": (["train", "digits-c4", "--out", "{tmp}/o", "--set", "train.epoch=1"],
                          "unknown setting 'train.epoch' (did you mean train.epochs?); valid "
                          "keys: train.epochs"),
    "bad value type": (["train", "digits-c4", "--out", "{tmp}/o", "--set", "channels=wide"],
                       "bad value for channels: wide is not an integer"),
    "missing config file": (["train", "digits-c4", "--out", "{tmp}/o", "--config",
                             "{tmp}/none.json"], "config file {tmp}/none.json does not exist"),
    "malformed config file": (["train", "digits-c4", "--out", "{tmp}/o", "--config",
                               "{tmp}/bad.json"], "config file {tmp}/bad.json is not valid JSON"),
    "unknown key in config file": (["train", "digits-c4", "--out", "{tmp}/o", "--config",
                                    "{tmp}/unknown.json"],
                                   "config file {tmp}/unknown.json: unknown setting 'width'"),
    "existing out dir": (["train", "digits-c4", "--out", "{tmp}/run"],
                         "run directory {tmp}/run already holds a run; pass --resume to continue "
                         "it or --overwrite to replace it"),
    "resume with nothing to resume": (["train", "digits-c4", "--out", "{tmp}/empty", "--resume"],
                                      "nothing to resume in {tmp}/empty"),
    "resume and overwrite": (["train", "digits-c4", "--out", "{tmp}/run", "--resume",
                              "--overwrite"], "--resume and --overwrite exclude each other"),
    "missing --out": (["train", "digits-c4"], "the following argument is required: --out"),
    "missing experiment": (["train"], "the following arguments are required: EXPERIMENT"),
    "unknown command": (["fly"], "invalid choice: 'fly'"),
    "unknown option": (["train", "digits-c4", "--out", "{tmp}/o", "--fast"],
                       "unrecognized arguments: --fast"),
    "unknown dynamics experiment": (["dynamics", "drift", "--out", "{tmp}/o"],
                                    "unknown dynamics experiment 'drift'; "),
    "evaluate a non-run": (["evaluate", "{tmp}/empty"], "{tmp}/empty does not hold a quotient run"),
    "report a non-run": (["report", "{tmp}/empty"], "{tmp}/empty does not hold a quotient run"),
    "evaluate without checkpoint": (["evaluate", "{tmp}/run"], "no checkpoint in"),
    "overwrite a non-run": (["train", "digits-c4", "--out", "{tmp}/notes", "--overwrite"],
                            "is not empty and does not hold a quotient run"),
    "out under a regular file": (["train", "digits-c4", "--out", "{tmp}/notes/notes.txt/run"],
                                 "cannot create run directory {tmp}/notes/notes.txt/run: Not a "
                                 "directory; choose a --out in a folder you can write to"),
    # a file system nobody may create folders in (Linux only; skipped elsewhere)
    "out under /sys": (["train", "digits-c4", "--out", "/sys/quotient-run/o"],
                       "cannot create run directory /sys/quotient-run/o: Operation not "
                       "permitted; choose a --out in a folder you can write to"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_user_error_is_one_line(case, tmp_path, capsys):
    if case == "out under /sys" and not Path("/sys/kernel").is_dir():
        pytest.skip("needs Linux's /sys")
    args, message = CASES[case]
    (tmp_path / "bad.json").write_text('{"train": {"epochs": 2,}')
    (tmp_path / "unknown.json").write_text('{"width": 3}')
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "notes.txt").write_text("mine")
    _existing_run(tmp_path / "run")
    tmp = str(tmp_path)
    code = main([a.replace("{tmp}", tmp) for a in args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("quotient: error: "), err
    assert message.replace("{tmp}", tmp) in err
    assert "Traceback" not in err
    assert (tmp_path / "run" / "keep.txt").read_text() == "old", "nothing saved may be lost"
    assert (tmp_path / "notes" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "o").exists()


@pytest.mark.processes
def test_user_error_from_the_real_entry_point(tmp_path):
    done = run_quotient("train", "nope", "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert done.stderr.startswith("quotient: error: unknown experiment 'nope'")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    def broken_run(config, run_dir, resume):
        raise RuntimeError("a bug, not a user error")

    digits = experiments.get("digits-c4")
    broken = Experiment("broken", "raises", digits.config_cls, broken_run)
    monkeypatch.setitem(experiments._LOADED["train"], "broken", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["train", "broken", "--out", str(tmp_path / "o")])


def test_empty_dynamics_registry_is_listed_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(experiments._LAZY, "dynamics", {})
    monkeypatch.setitem(experiments._LOADED, "dynamics", {})
    assert main(["dynamics", "drift", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == ("quotient: error: unknown dynamics experiment 'drift'; "
                                       "no dynamics experiments registered yet\n")
    assert main(["list"]) == 0
    assert "(no dynamics experiments registered yet)" in capsys.readouterr().out
