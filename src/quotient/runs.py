"""Open a finished run for inspection: :func:`load` rebuilds the trained model from the run
directory alone — no shape arguments, nothing written.

>>> import quotient
>>> run = quotient.load("runs/rot")                       # doctest: +SKIP
>>> run.model(images).z                                   # doctest: +SKIP
>>> run.report().metrics["inv_err_exact"]                 # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RunDirError

__all__ = ["LoadedRun", "load"]


@dataclass
class LoadedRun:
    """A trained run, read-only.

    Attributes:
        path: the run directory.
        experiment: the experiment's name.
        config: its settings (an instance of the experiment's config class).
        metrics: its ``metrics.json`` ({} if it did not finish).
        model: the trained model in ``eval()`` mode on ``device``.
        step: the training step of the checkpoint loaded.
    """

    path: Path
    experiment: str
    config: Any
    metrics: dict[str, Any]
    model: Any
    step: int

    def data(self) -> Any:
        """The run's data, rebuilt from its settings (a :class:`~quotient.experiments.recipe.
        Split`; a run on your own file needs that file where the run found it)."""
        from . import experiments

        return experiments.get(self.experiment).recipe.data(self.config)

    def report(self, **kwargs: Any) -> Any:
        """The :func:`~quotient.metrics.symmetry_report` of the model on the run's test data
        (``check_samples`` of them, with the run's evaluation seed), as the run measured it."""
        import torch

        from . import experiments
        from .experiments.recipe import _setting, _take
        from .metrics import symmetry_report

        recipe = experiments.get(self.experiment).recipe
        split = self.data()
        test = _take(split.test, _setting(self.config, "check_samples", 1000))
        gen = torch.Generator().manual_seed(_setting(self.config, "eval_seed", 1))
        group = recipe.check_group(self.config) if recipe.check_group else None
        return symmetry_report(self.model, test, generator=gen, group=group, **kwargs)


def load(path: str | os.PathLike[str], *, device: str = "cpu") -> LoadedRun:
    """The trained model and settings of the run in ``path``.

    Reads ``config.json``, the latest readable checkpoint and (if present) ``metrics.json``;
    writes nothing and renames nothing, so it is safe on a run another process is training.
    Checkpoints are read as data (``weights_only``): a file holding code is refused.

    Raises:
        RunDirError: ``path`` holds no run, or a run of an experiment this version cannot
            rebuild.
        CheckpointError: no readable checkpoint.
    """
    import torch

    from . import experiments
    from .experiments.recipe import INPUTS, Split, input_stub
    from .train import RunDir, load_model_state, saved_config

    run_dir = RunDir.open(path, read_only=True)
    saved = run_dir.read_config()
    name, kind = saved.get("experiment"), saved.get("kind", "train")
    if kind != "train" or name not in experiments.names("train"):
        raise RunDirError(f"{path} holds a run of {kind} experiment {name!r}, which quotient.load "
                          "cannot rebuild (it rebuilds the autoencoder experiments)")
    exp = experiments.get(name)
    if exp.recipe is None:
        raise RunDirError(f"{path} holds a run of {name!r}, which is not an autoencoder "
                          "recipe; quotient.load rebuilds those only")
    cfg = saved_config(run_dir, exp.config_cls, device=device)
    spec_path = run_dir.file(INPUTS)
    if spec_path.is_file():
        import json

        stub = input_stub(json.loads(spec_path.read_text(encoding="utf-8")))
        split = Split(stub, stub)
    else:  # a run from before inputs.json existed: its data gives the shapes
        split = exp.recipe.data(cfg)
    model = exp.recipe.model(cfg, split)
    checkpoint = load_model_state(run_dir, model)
    model = model.to(torch.device(device)).eval()
    return LoadedRun(Path(path), name, cfg, run_dir.read_final_metrics(), model,
                     int(checkpoint["step"]))
