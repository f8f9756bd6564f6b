"""The training loop: determinism, resumption after a crash, NaN handling, limits."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from _fit_helpers import make_mlp, mse_loss

from quotient.errors import ConfigError, TrainingError
from quotient.train import (
    RunDir,
    StepContext,
    TensorDictDataset,
    TrainConfig,
    epoch_permutation,
    fit,
    load_checkpoint,
    select_device,
)
from quotient.train.distributed import rank_share

CFG = TrainConfig(epochs=3, batch_size=8, lr=0.05, seed=3, device="cpu", checkpoint_every=3,
                  log_every=2, progress=False)


@pytest.fixture
def regression_data() -> TensorDictDataset:
    """40 samples of a noisy linear map R^3 -> R^2, in float64."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 3, generator=g, dtype=torch.float64)
    w = torch.randn(3, 2, generator=g, dtype=torch.float64)
    y = x @ w + 0.1 * torch.randn(40, 2, generator=g, dtype=torch.float64)
    return TensorDictDataset(x=x, y=y)


class Crash(Exception):
    """Stands in for a kill in the middle of a step."""


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture
def reference(tmp_path, regression_data):
    run = RunDir(tmp_path / "ref")
    result = fit(make_mlp(), mse_loss, regression_data, CFG, run)
    return result, run


def test_reference_run(reference):
    result, run = reference
    assert result.completed and result.step == 15 and result.epoch == 3
    assert result.history[-1]["step"] == 15
    assert [r["step"] for r in result.history if r["kind"] == "train"] == [2, 4, 6, 8, 10, 12,
                                                                           14, 15]
    assert [p.name for p in sorted(run.checkpoints_dir.iterdir())] == ["ckpt-12.pt", "ckpt-15.pt"]
    assert run.read_metrics_log() == result.history
    first = result.history[0]["loss"]
    assert result.history[-1]["loss"] < first, "training should reduce the loss"


def test_fit_is_deterministic(reference, regression_data):
    again = fit(make_mlp(), mse_loss, regression_data, CFG)
    _assert_same(_params(again.model), _params(reference[0].model))
    assert again.history == reference[0].history


@pytest.mark.parametrize("crash_at", [5, 8, 11])
def test_crash_and_resume_matches_uninterrupted(tmp_path, reference, regression_data, crash_at):
    calls = 0

    def crashing_loss(model, batch):
        nonlocal calls
        calls += 1
        if calls == crash_at:
            raise Crash
        return mse_loss(model, batch)

    run = RunDir(tmp_path / "run")
    with pytest.raises(Crash):
        fit(make_mlp(), crashing_loss, regression_data, CFG, run)
    resumed = fit(make_mlp(seed=99), mse_loss, regression_data, CFG,
                  RunDir(tmp_path / "run", resume=True), resume=True)
    ref, ref_run = reference
    _assert_same(_params(resumed.model), _params(ref.model))
    assert resumed.history == ref.history
    assert run.read_metrics_log() == ref_run.read_metrics_log()


def test_nan_loss_stops_and_keeps_last_checkpoint(tmp_path, regression_data):
    calls = 0

    def exploding_loss(model, batch):
        nonlocal calls
        calls += 1
        loss, logs = mse_loss(model, batch)
        return (loss * float("nan") if calls == 5 else loss), logs

    run = RunDir(tmp_path / "run")
    with pytest.raises(TrainingError, match=r"loss is nan at step 5 .*ckpt-3.pt is intact"):
        fit(make_mlp(), exploding_loss, regression_data, CFG, run)
    assert [p.name for p in run.checkpoints_dir.iterdir()] == ["ckpt-3.pt"]
    assert load_checkpoint(run.checkpoints_dir / "ckpt-3.pt")["step"] == 3


def test_time_limit_stops_resumably(tmp_path, reference, regression_data):
    limited = dataclasses.replace(CFG, time_limit_minutes=1e-9)
    first = fit(make_mlp(), mse_loss, regression_data, limited, RunDir(tmp_path / "run"))
    assert not first.completed and first.stop_reason == "time_limit" and first.step == 1
    assert first.checkpoint is not None and first.checkpoint.name == "ckpt-1.pt"
    done = fit(make_mlp(), mse_loss, regression_data, CFG,
               RunDir(tmp_path / "run", resume=True), resume=True)
    assert done.completed
    _assert_same(_params(done.model), _params(reference[0].model))


def test_max_steps(regression_data):
    result = fit(make_mlp(), mse_loss, regression_data, dataclasses.replace(CFG, max_steps=7))
    assert result.step == 7 and result.stop_reason == "max_steps" and result.completed


def test_resume_of_finished_run_trains_no_more(reference, regression_data):
    _, run = reference
    again = fit(make_mlp(seed=5), mse_loss, regression_data, CFG,
                RunDir(run.path, resume=True), resume=True)
    _assert_same(_params(again.model), _params(reference[0].model))
    assert again.history == reference[0].history


def test_resume_needs_same_batch_size(reference, regression_data):
    _, run = reference
    with pytest.raises(ConfigError, match="batch_size=8 but this run has batch_size=4"):
        fit(make_mlp(), mse_loss, regression_data, dataclasses.replace(CFG, batch_size=4),
            RunDir(run.path, resume=True), resume=True)


def test_batch_larger_than_data(regression_data):
    with pytest.raises(ConfigError, match="larger than the training set"):
        fit(make_mlp(), mse_loss, regression_data, dataclasses.replace(CFG, batch_size=64))


def test_tuple_samples_and_step_context():
    g = torch.Generator().manual_seed(0)
    samples = [(torch.randn(3, generator=g, dtype=torch.float64),
                torch.randn(2, generator=g, dtype=torch.float64)) for _ in range(24)]
    seen: list[tuple[int, int]] = []

    def loss_with_noise(model, batch, ctx: StepContext):
        x, y = batch
        assert ctx.indices.shape == (8,) and ctx.world_size == 1
        seen.append((ctx.step, ctx.epoch))
        noise = torch.randn(x.shape, generator=ctx.generator, dtype=x.dtype)
        return ((model(x + 0.01 * noise) - y) ** 2).mean(), {}

    a = fit(make_mlp(), loss_with_noise, samples, CFG)
    assert seen[:4] == [(0, 0), (1, 0), (2, 0), (3, 1)]
    b = fit(make_mlp(), loss_with_noise, samples, CFG)
    _assert_same(_params(a.model), _params(b.model))


def test_data_order_does_not_depend_on_world_size():
    perm, _ = epoch_permutation(seed=7, epoch=2, n=100)
    again, _ = epoch_permutation(seed=7, epoch=2, n=100)
    assert torch.equal(perm, again) and sorted(perm.tolist()) == list(range(100))
    assert not torch.equal(perm, epoch_permutation(seed=7, epoch=3, n=100)[0])
    batch = perm[:12]
    for world in (1, 2, 3, 4):
        shares = [rank_share(batch, r, world) for r in range(world)]
        assert torch.equal(torch.cat(shares), batch)
    with pytest.raises(ConfigError, match="not divisible by the 5 processes"):
        rank_share(batch, 0, 5)


def test_select_device():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            select_device("cuda")
