"""The one symmetry report: exact figures at rounding for exact models, a leak shows, float64
models report their float64 figures under the same names, baselines are measured by their code."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from quotient.actions import rot90_image
from quotient.groups import CyclicGroup
from quotient.metrics import EmbeddingView, symmetry_report
from quotient.models.builders import image_giae, set_giae
from quotient.symmetry import Symmetry
from quotient.train import seeded


def _images(dtype=torch.float32):
    return torch.rand(24, 1, 12, 12, generator=torch.Generator().manual_seed(0), dtype=dtype)


def _image_model():
    with seeded(0):
        return image_giae(image_size=12, latent_dim=3, widths=(2, 2), decoder_widths=(4, 4, 4))


def test_exact_figures_sit_at_rounding_and_the_approximate_ones_do_not():
    report = symmetry_report(_image_model(), _images())
    m = report.metrics
    assert m["inv_err_exact_f64"] < 1e-10 and m["rec_err_exact_f64"] < 1e-10
    assert m["pose_err_exact_angle_deg_f64"] < 1e-8 and m["canon_err_exact_f64"] < 1e-10
    assert m["inv_err_exact"] < 1e-3  # float32 rounding, relative to an untrained spread
    assert m["inv_err_any"] > 100 * m["inv_err_exact"]  # learned, not built in
    assert report.samples["exact"]["inv"].shape == (24,)
    assert m["inv_err_exact_p50"] <= m["inv_err_exact_p99"] <= m["inv_err_exact"]


def test_a_float64_model_reports_its_float64_figures_under_the_same_names():
    model = _image_model().double()
    m = symmetry_report(model, _images(torch.float64)).metrics
    assert m["inv_err_exact_f64"] == m["inv_err_exact"] < 1e-10


def test_a_leaking_code_shows_in_the_report():
    with seeded(0):
        # four elements: the report walks all 24 permutations, a fifth would make it 120
        model = set_giae(in_dim=2, max_elements=4, latent_dim=3, hidden=8,
                         decoder_hidden=8).double()
    x = torch.randn(16, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    good = symmetry_report(model, x).metrics["inv_err_exact"]
    encode = model.encoder.forward
    model.encoder.forward = lambda t: (encode(t)[0] + t[:, :1, :1].reshape(-1, 1), encode(t)[1])
    bad = symmetry_report(model, x).metrics["inv_err_exact"]
    assert good < 1e-12 and bad > 1e-3


def test_a_baseline_is_measured_by_its_code():
    class Plain(nn.Module):
        def embed(self, x):
            return x.flatten(1)[:, :4]

    view = EmbeddingView(Plain(), Symmetry(CyclicGroup(4), rot90_image))
    m = symmetry_report(view, _images()).metrics
    assert m["inv_err_exact"] > 0.1 and not [k for k in m if k.startswith(("pose", "rec"))]
    with pytest.raises(TypeError, match="declares no symmetry"):
        symmetry_report(nn.Linear(2, 2), torch.zeros(2, 2))
