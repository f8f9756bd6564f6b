"""Bad input into the Python API: each case raises an exception whose message names the
problem and the fix (torch's own errors name neither). ``PYTHON_CASES`` also feeds the
bad-input table in docs/bad_input.md (scripts/bad_input_table.py)."""

from __future__ import annotations

import pytest
import torch

from quotient.models.giae import GIAE
from quotient.models.image_giae import image_giae
from quotient.nn.pose_perm import PermutationPose
from quotient.nn.sets import SetDecoder, SetEncoder
from quotient.train import TensorDictDataset, TrainConfig, fit


def _images() -> GIAE:
    torch.manual_seed(0)
    return image_giae(image_size=12, latent_dim=3, widths=(2, 2), decoder_widths=(4, 4, 4))


def _sets() -> GIAE:
    torch.manual_seed(0)
    return GIAE(SetEncoder(2, 3, hidden=8), PermutationPose(), SetDecoder(3, 4, 2, hidden=8))


def _x(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(0), dtype=dtype)


def _fit_bare_tensor_loss() -> None:
    fit(torch.nn.Linear(2, 1), lambda model, batch: model(batch["x"]).pow(2).mean(),
        TensorDictDataset(x=_x(8, 2)), TrainConfig(epochs=1, batch_size=4, progress=False))


PYTHON_CASES = {
    # name: (the call, the exception, (part of) the message)
    "float64 input, float32 model": (
        "model(x.double())", TypeError,
        "the input is float64 but the model's parameters are float32; convert the input with "
        "x.to(torch.float32), or the model with model.to(torch.float64)"),
    "channels-last images": (
        "model(x.permute(0, 2, 3, 1))", ValueError,
        "the images are channels-last, (batch, H, W, C) = (2, 12, 12, 1); the model takes "
        "(batch, C, H, W): pass x.permute(0, 3, 1, 2)"),
    "one image without the batch axis": (
        "model(x[0])", ValueError,
        "this looks like one image without the batch axis: pass x.unsqueeze(0)"),
    "images without the channel axis": (
        "model(x[:, 0])", ValueError,
        "for a batch of one-channel images add the channel axis: x.unsqueeze(1)"),
    "more set elements than the decoder makes": (
        "sets_model(torch.rand(2, 6, 2))", ValueError,
        "the decoder makes sets of 4 elements but the input has 6; build the model for n=6 "
        "(sets of different sizes: pad them to the largest and pass a mask)"),
    "loss function returns a bare tensor": (
        "fit(model, lambda m, b: m(b['x']).pow(2).mean(), ...)", TypeError,
        "loss_fn returned a bare tensor; return (loss, logs), a scalar tensor and a dict of "
        "floats to log"),
}

CALLS = {
    "float64 input, float32 model": lambda: _images()(_x(2, 1, 12, 12, dtype=torch.float64)),
    "channels-last images": lambda: _images()(_x(2, 1, 12, 12).permute(0, 2, 3, 1)),
    "one image without the batch axis": lambda: _images()(_x(1, 12, 12)),
    "images without the channel axis": lambda: _images()(_x(2, 12, 12)),
    "more set elements than the decoder makes": lambda: _sets()(_x(2, 6, 2)),
    "loss function returns a bare tensor": _fit_bare_tensor_loss,
}


@pytest.mark.parametrize("case", list(PYTHON_CASES))
def test_bad_input_names_the_problem_and_the_fix(case):
    _, exc, message = PYTHON_CASES[case]
    with pytest.raises(exc) as info:
        CALLS[case]()
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_every_case_is_called():
    assert CALLS.keys() == PYTHON_CASES.keys()


def test_the_same_inputs_in_the_right_form_work():
    assert _images()(_x(2, 1, 12, 12)).z.shape == (2, 3)
    assert _sets()(_x(2, 4, 2)).z.shape == (2, 3)
