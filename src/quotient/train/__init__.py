"""Training layer: run directories, checkpoints, the training loop and DDP.

A typical experiment::

    from quotient.train import TrainConfig, TensorDictDataset, fit, seeded

    with seeded(cfg.train.seed):
        model = Net()
    result = fit(model, loss_fn, TensorDictDataset(x=x, y=y), cfg.train, run_dir, resume=resume)

``loss_fn(model, batch) -> (mean loss tensor, {"name": float, ...})``. The same code runs under
``torchrun`` with DistributedDataParallel; see :func:`fit`.
"""

from __future__ import annotations

from .batching import (
    TensorDictDataset,
    batch_input,
    gather_batch,
    input_dataset,
    seeded,
    to_device,
)
from .checkpoint import (
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    load_latest_checkpoint,
    load_model_state,
    prune_checkpoints,
    save_checkpoint,
)
from .config import TrainConfig, build_optimizer
from .distributed import DistInfo, epoch_permutation, mix_seed, select_device, setup_distributed
from .hooks import Callback, EpochEval, FitResult, StepContext
from .io import atomic_write_bytes, atomic_write_json, atomic_write_text
from .loop import Trainer, fit
from .rundir import RunDir
from .runtime import count_parameters, quiet_training_log, use_threads
from .schedules import BudgetCosine, budget_scheduler, finish_budget
from .settings import (
    apply_overrides,
    check_ranges,
    config_from_dict,
    config_keys,
    config_to_dict,
    load_config_file,
    saved_config,
)
from .sync_norm import GlobalBatchNorm, all_reduce_sum, convert_batchnorm
from .tensorboard import TensorBoardLogger, export_run, require_tensorboard

__all__ = [
    "BudgetCosine",
    "Callback",
    "EpochEval",
    "batch_input",
    "budget_scheduler",
    "count_parameters",
    "finish_budget",
    "input_dataset",
    "quiet_training_log",
    "use_threads",
    "DistInfo",
    "FitResult",
    "GlobalBatchNorm",
    "RunDir",
    "StepContext",
    "TensorBoardLogger",
    "TensorDictDataset",
    "TrainConfig",
    "Trainer",
    "all_reduce_sum",
    "apply_overrides",
    "check_ranges",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "build_optimizer",
    "checkpoint_path",
    "convert_batchnorm",
    "config_from_dict",
    "config_keys",
    "config_to_dict",
    "epoch_permutation",
    "export_run",
    "fit",
    "gather_batch",
    "list_checkpoints",
    "load_config_file",
    "load_checkpoint",
    "load_latest_checkpoint",
    "load_model_state",
    "mix_seed",
    "prune_checkpoints",
    "require_tensorboard",
    "save_checkpoint",
    "saved_config",
    "seeded",
    "select_device",
    "setup_distributed",
    "to_device",
]

