"""The training loop: :func:`fit` and :class:`Trainer`.

Determinism and resumption: the data order of epoch ``e`` is a permutation drawn from an
explicit generator seeded by ``(seed, e)`` only; each step takes the next ``batch_size`` indices
(the last incomplete batch is dropped). A checkpoint stores the model, optimizer (and scheduler),
step, epoch, batch-in-epoch, the window of not-yet-logged values and the history, so a run
killed at any point and resumed from its latest checkpoint ends with the same parameters and
metrics as an uninterrupted one. Under ``torchrun`` every rank takes an equal contiguous share
of each global batch; the loss must be a mean over the rank's share, so the gradient average
that DistributedDataParallel computes equals the gradient of the global batch, and the data
order does not depend on the number of processes (a run can be resumed with a different one).
With ``QUOTIENT_DEBUG_PAUSE_AT_STEP=k`` the loop sleeps after step ``k`` (to kill it there).
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from ..errors import CheckpointError, ConfigError, TrainingError
from .batching import gather_batch, to_device
from .checkpoint import (
    checkpoint_path,
    load_checkpoint,
    load_latest_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from .config import TrainConfig, build_optimizer
from .distributed import (
    DistInfo,
    epoch_permutation,
    mix_seed,
    rank_share,
    reduce_step_values,
    setup_distributed,
    teardown_distributed,
)
from .hooks import Callback, FitResult, StepContext
from .rundir import RunDir
from .sync_norm import convert_batchnorm

__all__ = ["Callback", "FitResult", "StepContext", "Trainer", "fit"]

log = logging.getLogger("quotient.train")

KEEP_CHECKPOINTS = 2
OptimizerSpec = torch.optim.Optimizer | Callable[[Any], torch.optim.Optimizer] | None


@dataclass
class _State:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    window_count: int = 0
    window_sums: dict[str, float] = field(default_factory=dict)
    train_seconds: float = 0.0


def _accepts_context(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    return len(positional) >= 3 and (positional[2].default is inspect.Parameter.empty
                                     or positional[2].name == "ctx")


def _check_loss_output(out: Any) -> tuple[torch.Tensor, Mapping[str, Any]]:
    """``(loss, logs)`` from a loss function's return value, or a clear ``TypeError``."""
    if isinstance(out, torch.Tensor):
        raise TypeError(
            "loss_fn returned a bare tensor; return (loss, logs), a scalar tensor and a dict of "
            "floats to log, e.g. return loss, {} (or return loss, {'mse': float(loss)})")
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], torch.Tensor)
            and out[0].ndim == 0 and isinstance(out[1], Mapping)):
        raise TypeError(
            f"loss_fn must return (loss, logs): a scalar tensor and a dict of floats; got "
            f"{type(out).__name__}" + (f" of {len(out)} items" if isinstance(out, tuple) else "")
            + "; a batch loss must be reduced to its mean first")
    return out[0], out[1]


class Trainer:
    """Trains ``model`` on ``dataset`` by minimising ``loss_fn``; see :func:`fit`."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[..., tuple[torch.Tensor, Mapping[str, Any]]],
        dataset: Any,
        config: TrainConfig,
        run_dir: RunDir | None = None,
        *,
        optimizer: OptimizerSpec = None,
        scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.dataset = dataset
        self.config = config
        self.run_dir = run_dir
        self._optimizer_spec = optimizer
        self._scheduler_factory = scheduler
        self.callbacks = list(callbacks)
        self.state = _State()
        self.info: DistInfo | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self._last_saved: Path | None = None
        self._tensorboard: Any = None

    # -- public views -------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """The device the model trains on (CPU before :meth:`fit`)."""
        return self.info.device if self.info else torch.device("cpu")

    @property
    def step(self) -> int:
        """Steps taken so far."""
        return self.state.step

    @property
    def history(self) -> list[dict[str, Any]]:
        """Logged records so far."""
        return self.state.history

    # -- set-up -------------------------------------------------------------------------------
    def _make_optimizer(self) -> torch.optim.Optimizer:
        spec = self._optimizer_spec
        if isinstance(spec, torch.optim.Optimizer):
            return spec
        if spec is not None:
            return spec(self.model.parameters())
        return build_optimizer(self.model.parameters(), self.config)

    def _checkpoint_state(self) -> dict[str, Any]:
        s, cfg = self.state, self.config
        assert self.optimizer is not None
        _, generator = epoch_permutation(cfg.seed, s.epoch, len(self.dataset))
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "step": s.step, "epoch": s.epoch, "batch_in_epoch": s.batch_in_epoch,
            "history": s.history, "window_count": s.window_count,
            "window_sums": dict(s.window_sums), "train_seconds": s.train_seconds,
            "data_generator_state": generator.get_state(),
            "seed": cfg.seed, "batch_size": cfg.batch_size, "dataset_size": len(self.dataset),
        }

    def _restore(self) -> None:
        info, run_dir = self.info, self.run_dir
        assert info is not None and run_dir is not None and self.optimizer is not None
        if info.is_main:  # partial files left by a process killed while saving
            for leftover in run_dir.checkpoints_dir.glob(".ckpt-*.tmp"):
                log.info("removing %s, left by an interrupted save", leftover.name)
                leftover.unlink(missing_ok=True)
        found = (load_latest_checkpoint(run_dir.checkpoints_dir, set_aside=True)
                 if info.is_main else None)
        if info.distributed:  # every rank loads the file rank 0 chose
            chosen = [str(found[1]) if found else None]
            dist.broadcast_object_list(chosen, src=0)
            if not info.is_main and chosen[0] is not None:
                found = (load_checkpoint(chosen[0]), Path(chosen[0]))
        if found is None:
            log.info("no checkpoint in %s yet; starting from step 0", run_dir.path)
            return
        ckpt, path = found
        cfg = self.config
        for key, now in (("batch_size", cfg.batch_size), ("seed", cfg.seed),
                         ("dataset_size", len(self.dataset))):
            if ckpt.get(key) != now:
                raise ConfigError(
                    f"cannot resume from {path}: it was written with {key}={ckpt.get(key)} but "
                    f"this run has {key}={now}; keep it unchanged or start anew with --overwrite")
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scheduler is not None and ckpt.get("scheduler") is not None:
                self.scheduler.load_state_dict(ckpt["scheduler"])
        except (RuntimeError, ValueError, KeyError) as exc:
            reason = " ".join(str(exc).split())[:300]
            raise CheckpointError(f"checkpoint {path} does not fit this model: {reason}") from exc
        s = self.state
        s.step, s.epoch, s.batch_in_epoch = ckpt["step"], ckpt["epoch"], ckpt["batch_in_epoch"]
        s.history = [dict(r) for r in ckpt["history"]]
        s.window_count, s.window_sums = ckpt["window_count"], dict(ckpt["window_sums"])
        s.train_seconds = float(ckpt["train_seconds"])
        self._last_saved = path
        log.info("resuming from %s (step %d, epoch %d, batch %d of the epoch)",
                 path.name, s.step, s.epoch, s.batch_in_epoch)

    # -- bookkeeping --------------------------------------------------------------------------
    def _record(self, record: dict[str, Any]) -> None:
        self.state.history.append(record)
        if self.run_dir is not None:
            self.run_dir.append_metrics(record)
        for cb in self.callbacks:
            cb.on_log(self, record)

    def _log_window(self) -> dict[str, Any] | None:
        s = self.state
        if not s.window_count:
            return None
        record: dict[str, Any] = {"kind": "train", "step": s.step, "epoch": s.epoch}
        record.update({k: v / s.window_count for k, v in s.window_sums.items()})
        assert self.optimizer is not None
        record["lr"] = float(self.optimizer.param_groups[0]["lr"])
        s.window_count, s.window_sums = 0, {}
        self._record(record)
        return record

    def _end_epoch(self) -> None:
        s = self.state
        extra: dict[str, Any] = {}
        for cb in self.callbacks:
            extra.update(cb.on_epoch_end(self, s.epoch) or {})
        if extra:
            self._record({"kind": "epoch", "step": s.step, "epoch": s.epoch,
                          **{k: float(v) for k, v in extra.items()}})
        s.epoch += 1
        s.batch_in_epoch = 0

    def _save(self) -> Path | None:
        if self.run_dir is None:
            return None
        path = checkpoint_path(self.run_dir.checkpoints_dir, self.state.step)
        if self.run_dir.is_writer:
            save_checkpoint(path, self._checkpoint_state())
            prune_checkpoints(self.run_dir.checkpoints_dir, KEEP_CHECKPOINTS)
            self.run_dir.write_metrics_log(self.state.history)
        self._last_saved = path
        for cb in self.callbacks:
            cb.on_checkpoint(self, path)
        return path

    # -- the loop -----------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> FitResult:
        """Train; with ``resume`` continue from the latest checkpoint of the run directory."""
        if resume and self.run_dir is None:
            raise ValueError("resume=True needs a run directory")
        self.info = setup_distributed(self.config.device)
        failed = True
        try:
            result = self._fit(resume)
            failed = False
            return result
        except BaseException as exc:
            # the finished frames of the traceback hold the DistributedDataParallel wrapper;
            # release it before the process group goes (see close_process_group)
            traceback.clear_frames(exc.__traceback__)
            raise
        finally:
            if self._tensorboard is not None:
                self.callbacks.remove(self._tensorboard)
                self._tensorboard.close()
                self._tensorboard = None
            teardown_distributed(self.info, failed=failed)

    def _fit(self, resume: bool) -> FitResult:
        info, cfg, s = self.info, self.config, self.state
        assert info is not None
        n = len(self.dataset)
        rank_share(torch.arange(cfg.batch_size), info.rank, info.world_size)  # divisible?
        steps_per_epoch = n // cfg.batch_size
        if steps_per_epoch == 0:
            raise ConfigError(
                f"train.batch_size={cfg.batch_size} is larger than the training set ({n} samples)")
        total = cfg.epochs * steps_per_epoch
        if cfg.max_steps is not None:
            total = min(total, cfg.max_steps)
        self.model.to(info.device)
        self.optimizer = self._make_optimizer()
        if self._scheduler_factory is not None:
            self.scheduler = self._scheduler_factory(self.optimizer)
        if resume:
            self._restore()
        if self.run_dir is not None:
            self.run_dir.write_metrics_log(s.history)  # drop records newer than the checkpoint
            if cfg.tensorboard and self.run_dir.is_writer:
                from .tensorboard import TensorBoardLogger

                # from a checkpoint, drop the events the interrupted run wrote after it
                self._tensorboard = TensorBoardLogger(self.run_dir, s.step if resume else None)
                self.callbacks.append(self._tensorboard)
        net: nn.Module = self.model
        if info.distributed:
            # batch statistics over the global batch, so W processes train as one does
            self.model = net = convert_batchnorm(self.model)
            ids = [info.device.index] if info.device.type == "cuda" else None
            net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        with_context = _accepts_context(self.loss_fn)
        log.info("training %d steps (%d epochs of %d steps, batch %d%s) on %s; %d done",
                 total, cfg.epochs, steps_per_epoch, cfg.batch_size,
                 f" = {info.world_size} x {cfg.batch_size // info.world_size}"
                 if info.distributed else "", info.device, s.step)
        pause_at = int(os.environ.get("QUOTIENT_DEBUG_PAUSE_AT_STEP", "-1") or -1)
        started, seconds_before = time.perf_counter(), s.train_seconds
        bar = tqdm(total=total, initial=min(s.step, total), unit="step", dynamic_ncols=True,
                   disable=not (cfg.progress and info.is_main and sys.stderr.isatty()))
        perm, perm_epoch, stop_reason = None, -1, "done"
        try:
            while s.step < total:
                if perm_epoch != s.epoch:
                    perm, _ = epoch_permutation(cfg.seed, s.epoch, n)
                    perm_epoch = s.epoch
                assert perm is not None
                b = s.batch_in_epoch
                indices = rank_share(perm[b * cfg.batch_size:(b + 1) * cfg.batch_size],
                                     info.rank, info.world_size)
                batch = to_device(gather_batch(self.dataset, indices), info.device)
                net.train()
                if with_context:
                    gen = torch.Generator().manual_seed(mix_seed(cfg.seed, "step", s.step,
                                                                 info.rank))
                    ctx = StepContext(s.step, s.epoch, b, info.rank, info.world_size, indices, gen)
                    out = self.loss_fn(net, batch, ctx)
                else:
                    out = self.loss_fn(net, batch)
                loss, logs = _check_loss_output(out)
                over_time = (cfg.time_limit_minutes is not None and info.is_main and
                             time.perf_counter() - started >= 60 * cfg.time_limit_minutes)
                values = reduce_step_values(loss, logs, over_time, info)
                if not math.isfinite(values["loss"]):
                    kept = f" ({self._last_saved.name} is intact)" if self._last_saved else ""
                    raise TrainingError(
                        f"loss is {values['loss']} at step {s.step + 1} (epoch {s.epoch}, batch "
                        f"{b}); training stopped without saving{kept}; lower train.lr or set "
                        "train.grad_clip, then continue with --resume")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip is not None:
                    nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                self.optimizer.step()
                if self.scheduler is not None:
                    self.scheduler.step()
                s.step += 1
                s.batch_in_epoch += 1
                stop_now = values.pop("__stop__") > 0
                s.window_count += 1
                for key, value in values.items():
                    s.window_sums[key] = s.window_sums.get(key, 0.0) + value
                s.train_seconds = seconds_before + time.perf_counter() - started
                if s.step % cfg.log_every == 0 or s.step == total:
                    record = self._log_window()
                    if record is not None:
                        bar.set_postfix(loss=f"{record['loss']:.4g}", refresh=False)
                if s.batch_in_epoch == steps_per_epoch:
                    self._end_epoch()
                if cfg.checkpoint_every and s.step % cfg.checkpoint_every == 0 and s.step < total:
                    self._save()
                bar.update(1)
                if stop_now and s.step < total:
                    stop_reason = "time_limit"
                    log.warning("time limit of %g min reached at step %d of %d; continue with "
                                "--resume", cfg.time_limit_minutes, s.step, total)
                    break
                if s.step == pause_at:
                    time.sleep(3600)
        finally:
            bar.close()
        if cfg.max_steps is not None and s.step >= cfg.max_steps and stop_reason == "done" \
                and s.step < cfg.epochs * steps_per_epoch:
            stop_reason = "max_steps"
        if self.run_dir is not None and (self._last_saved is None or
                                         self._last_saved.name != f"ckpt-{s.step}.pt"):
            self._save()
        elif self.run_dir is not None:
            self.run_dir.write_metrics_log(s.history)
        result = FitResult(self.model, s.history, s.step, s.epoch, stop_reason != "time_limit",
                           stop_reason, s.train_seconds, self._last_saved)
        if self.run_dir is not None:
            self.run_dir.last_fit = result
        return result


def fit(
    model: nn.Module,
    loss_fn: Callable[..., tuple[torch.Tensor, Mapping[str, Any]]],
    dataset: Any,
    config: TrainConfig,
    run_dir: RunDir | None = None,
    *,
    resume: bool = False,
    optimizer: OptimizerSpec = None,
    scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
    callbacks: Sequence[Callback] = (),
) -> FitResult:
    """Train ``model`` and return a :class:`FitResult`.

    Args:
        model: the module; moved to the selected device (wrapped in DDP under ``torchrun``).
        loss_fn: ``loss_fn(model, batch) -> (loss, logs)`` or ``loss_fn(model, batch, ctx)``
            with a :class:`StepContext`; ``loss`` a scalar tensor that is a *mean* over the
            batch, ``logs`` a dict of floats (or scalar tensors) averaged into the records. Call
            ``model(...)`` (not its submodules) so DistributedDataParallel sees the forward.
        dataset: ``len()`` and ``dataset[i]`` returning a dict/tuple of tensors, or a
            ``get_batch(indices)`` method (see :class:`~quotient.train.TensorDictDataset`).
        config: a :class:`TrainConfig`.
        run_dir: where checkpoints and ``metrics.jsonl`` go; ``None`` trains in memory only.
        resume: continue from the run directory's latest checkpoint (from step 0 if none).
        optimizer: an optimizer built on ``model``'s parameters *after* it was moved to its
            device, or a function ``params -> optimizer``; default from ``config.optimizer``.
        scheduler: a function ``optimizer -> LR scheduler``, stepped after every step.
        callbacks: :class:`Callback` objects.

    Raises:
        TrainingError: the loss became NaN or infinite (the last checkpoint stays intact).
        ConfigError: a batch size that does not fit the data set or the number of processes,
            or a resume with a different batch size, seed or data set.
        CheckpointError: no readable checkpoint, or one that does not fit the model.
    """
    trainer = Trainer(model, loss_fn, dataset, config, run_dir, optimizer=optimizer,
                      scheduler=scheduler, callbacks=callbacks)
    return trainer.fit(resume=resume)
