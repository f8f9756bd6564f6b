"""Benchmark: the SO(2) GIAE against its baselines on the bundled rotated-MNIST sample.

Trains every model of the ``rotated-mnist`` experiment with its default configuration on the
same fixed 8,000/2,000 split (``giae``, ``classical``, ``augmented``, ``equivariant``), and
measures the training-step time of the GIAE's C4 encoder against plain CNNs in the same process.
Writes ``benchmarks/results/giae_images.json`` (with ``readme_rows`` for ``make_table.py``).

Usage::

    python benchmarks/giae_images.py            # full run (tens of minutes on 2 CPU cores)
    python benchmarks/giae_images.py --quick    # a few steps per model, to check the script
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _harness import metric, write_results
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "giae_images.json"
MODELS = ("giae", "classical", "augmented", "equivariant")

# The paper's figures on MNIST-rot (12k training images): (rec. MSE, kNN accuracy).
REFERENCE = {
    "giae": (0.0162, 0.90),
    "classical": (0.0170, 0.68),
    "equivariant": (0.0189, "0.53–0.67"),
    "augmented": (None, None),
    "giae-refine": (0.0162, 0.90),
}
LABEL = {
    "giae": "GIAE (C4 group CNN, angle pose)",
    "classical": "classical AE (same decoder)",
    "augmented": "classical AE + rotation augmentation",
    "equivariant": "equivariant AE + invariant projection",
    "giae-refine": "GIAE, refine=1 (turn back by a first estimate, then encode)",
}


def _step_seconds(module: nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median of the fastest half of ``repeats`` forward+backward passes (robust to other
    processes on a shared machine)."""
    opt = torch.optim.SGD(module.parameters(), lr=1e-6)
    times = []
    for _ in range(repeats + 2):
        t0 = time.perf_counter()
        out = module(x)
        loss = sum(o.float().pow(2).mean() for o in (out if isinstance(out, tuple) else (out,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    fastest = sorted(times[2:])[: max(1, repeats // 2)]
    return statistics.median(fastest)


class _PlainCNN(nn.Module):
    """The C4 encoder's layer structure with ordinary convolutions of ``channels`` per layer."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(1, channels[0], 3, padding=1), nn.SiLU()]
        prev = channels[0]
        for i, c in enumerate(channels):
            if i > 0:
                layers.append(nn.AvgPool2d(2, ceil_mode=True))
            layers += [nn.Conv2d(prev, c, 3, padding=1), nn.BatchNorm2d(c), nn.SiLU()]
            prev = c
        self.net = nn.Sequential(*layers)
        self.out = nn.Linear(prev, 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(x).mean((-2, -1)))


def step_times(widths: tuple[int, ...], batch_size: int, repeats: int) -> dict[str, Any]:
    """Training-step seconds of the GIAE encoder and of plain CNNs of the same structure."""
    from quotient.nn.image_encoder import C4Encoder

    x = torch.rand(batch_size, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    c4 = _step_seconds(C4Encoder(widths=widths), x, repeats)
    same_channels = _step_seconds(_PlainCNN(tuple(4 * w for w in widths)), x, repeats)
    same_fields = _step_seconds(_PlainCNN(tuple(widths)), x, repeats)
    return {
        "batch_size": batch_size,
        "c4_encoder_seconds": c4,
        "plain_cnn_same_channels_seconds": same_channels,
        "plain_cnn_same_fields_seconds": same_fields,
        "ratio_to_same_channels": c4 / same_channels,
        "ratio_to_same_fields": c4 / same_fields,
        "note": "same_channels: a plain CNN with 4·fields channels per layer (equal conv cost); "
                "same_fields: one channel per field (a quarter of the width)",
    }


def train_model(kind: str, out: Path, quick: bool, threads: int) -> dict[str, Any]:
    from quotient.experiments.rotated_mnist import EXPERIMENT, RotatedMNISTConfig
    from quotient.train import RunDir

    cfg = RotatedMNISTConfig(model=kind, threads=threads)
    train = dataclasses.replace(cfg.train, progress=False)
    if quick:
        train = dataclasses.replace(train, max_steps=5, epochs=1)
    cfg = dataclasses.replace(cfg, train=train, plots=(kind == "giae"),
                              embedding="pca" if quick else cfg.embedding)
    run_dir = RunDir(out / kind, overwrite=True)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    metrics = EXPERIMENT.run(cfg, run_dir, False).metrics
    metrics["wall_seconds"] = time.perf_counter() - t0
    metrics["process_cpu_seconds"] = time.process_time() - cpu0
    metrics["resampling_floor"] = resampling_floor(out / kind, 500 if quick else 2000)
    return metrics


def refine_step_ratio(repeats: int = 12) -> float:
    """Training-step time of the default GIAE with ``refine=1`` over ``refine=0`` (same
    process, batch 64, fastest-half medians)."""
    from quotient.models.image_giae import image_giae

    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    times = {}
    for refine in (0, 1):
        torch.manual_seed(0)
        model = image_giae(refine=refine).train()
        times[refine] = _step_seconds(_LossOf(model), x, repeats)
    return times[1] / times[0]


class _LossOf(nn.Module):
    """A GIAE whose forward returns its training loss (for :func:`_step_seconds`)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.loss(x, self.model(x))[0]


def resampling_floor(run: Path, n: int) -> dict[str, float]:
    """The interpolation floor beside the invariance figure: ``n`` upright test digits each
    rendered at two random angles by the same bilinear resampler; the change of ``z`` between
    the renderings and the change of the pixels once each is turned back (both relative to
    their spreads, ``quotient.metrics.symmetry.resampling_floor``)."""
    import quotient
    from quotient.actions import rotate_image
    from quotient.data.mnist import load_mnist_sample
    from quotient.data.rotated_mnist import load_rotated_mnist_sample
    from quotient.metrics.symmetry import resampling_floor as floor

    model = quotient.load(run).model.eval()
    test = load_rotated_mnist_sample(n_train=8000, n_test=2000, seed=0).test
    sample = load_mnist_sample()
    upright = sample.images[test.source_index[:n]]
    gen = torch.Generator().manual_seed(7)
    a, b = (torch.rand(upright.shape[0], generator=gen, dtype=torch.float64) * 2 * torch.pi
            for _ in range(2))
    embed = model.embed if hasattr(model, "embed") else (lambda x: model.encoder(x)[0])
    return floor(embed, upright.to(next(model.parameters()).dtype), rotate_image, a, b)


def readme_rows(results: dict[str, dict[str, Any]],
                timing: dict[str, Any]) -> list[dict[str, Any]]:
    task = "rotated MNIST (8k/2k sample)"
    rows = []
    for kind, m in results.items():
        ref_mse, ref_knn = REFERENCE[kind]
        rows.append({"task": task, "method": LABEL[kind], "metric": "rec. MSE / kNN acc.",
                     "value": m["rec_mse"],
                     "reference": None if ref_mse is None else f"{ref_mse} / {ref_knn}",
                     "note": f"kNN acc. {m['knn_acc']:.3f}, linear {m['linear_acc']:.3f}, "
                             f"inv. err. any angle {m['inv_err_any']:.3g}"})
    if "giae" in results:
        g = results["giae"]
        ratio = ""
        if "augmented" in results:
            ratio = (f"augmented AE {results['augmented']['inv_err_any']:.3g} "
                     f"({results['augmented']['inv_err_any'] / g['inv_err_any']:.0f}x higher)")
        rows.append({"task": task, "method": LABEL["giae"],
                     "metric": "inv. err. of z, random angles", "value": g["inv_err_any"],
                     "reference": "—", "note": ratio})
        rows.append({"task": task, "method": LABEL["giae"],
                     "metric": "inv. err. of z, quarter turns (f32, worst)",
                     "value": g["inv_err_exact"], "reference": "≤ 1e-5 (acceptance)",
                     "note": f"f64 {g['inv_err_exact_f64']:.2g}; angle equivariance "
                             f"{metric(g, 'pose_err_exact_angle_deg', 'pose_err_deg'):.2g}° "
                             "(worst); random angles "
                             f"{metric(g, 'pose_err_any_angle_deg', 'pose_err_deg_any'):.2g}° "
                             "(mean)"})
        load = g.get("load_average_at_start")
        load = f"{load[0]:.2g}" if load else "?"
        rows.append({"task": task, "method": LABEL["giae"], "metric": "train seconds",
                     "value": g["train_seconds"],
                     "reference": "30–40 s per step (steerable CNN)",
                     "note": f"default config, {g['steps']} steps, {g.get('threads', '?')} CPU "
                             f"thread(s), load average at start {load}"})
    if "giae-refine" in results:
        r = results["giae-refine"]
        floor = r.get("resampling_floor", {})
        rows.append({"task": task, "method": LABEL["giae-refine"],
                     "metric": "inv. err. of z, random angles", "value": r["inv_err_any"],
                     "reference": "≤ 0.01 (goal)",
                     "note": f"angle error random angles {r['pose_err_any_angle_deg']:.2f}° "
                             f"(goal ≤ 0.3°); quarter turns f32 {r['inv_err_exact']:.2g}, f64 "
                             f"{r['inv_err_exact_f64']:.2g}; resampling floor: two renderings "
                             f"move z by {floor.get('code', float('nan')):.3f}, the pixels by "
                             f"{floor.get('pixels', float('nan')):.3f}; step cost "
                             f"{r.get('step_time_ratio', float('nan')):.2f}x the default; "
                             f"{r['train_seconds']:.0f} s on a shared machine"})
    rows.append({"task": task, "method": "C4 encoder vs plain CNN",
                 "metric": "train-step time ratio", "value": timing["ratio_to_same_channels"],
                 "reference": "—",
                 "note": f"plain CNN with 4x channels (equal conv cost); "
                         f"{timing['ratio_to_same_fields']:.1f}x vs one channel per field"})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per model")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset")
    parser.add_argument("--runs", default=None, help="keep the run directories here")
    parser.add_argument("--output", default=str(RESULTS), help="results JSON path")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads per model (0: torch's default); 1 is faster when "
                             "other processes share the cores")
    parser.add_argument("--update", action="store_true",
                        help="keep the other models' figures from the existing results JSON "
                             "and replace only those of --models")
    parser.add_argument("--from-run", action="append", default=[], metavar="KIND=DIR",
                        help="record a finished rotated-mnist run DIR as model KIND (e.g. "
                             "giae-refine=runs/refine, trained with --set refine=1) instead "
                             "of training it; its evaluation.json is preferred to metrics.json")
    args = parser.parse_args(argv)
    kinds = [k for k in args.models.split(",") if k]
    unknown = sorted(set(kinds) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {MODELS}")

    from quotient.experiments.rotated_mnist import RotatedMNISTConfig

    started = time.perf_counter()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    results: dict[str, dict[str, Any]] = {}
    path = Path(args.output)
    if args.update and path.is_file():
        results = {k: v for k, v in json.loads(path.read_text())["models"].items()
                   if k in LABEL}
    for spec in args.from_run:
        kind, _, run = spec.partition("=")
        if kind not in LABEL or not run:
            parser.error(f"--from-run needs KIND=DIR with KIND in {sorted(LABEL)}, got {spec!r}")
        run_path = Path(run)
        metrics = json.loads((run_path / "metrics.json").read_text())
        if (run_path / "evaluation.json").is_file():  # recomputed with the current code
            metrics.update(json.loads((run_path / "evaluation.json").read_text()))
        metrics["resampling_floor"] = resampling_floor(run_path, 2000)
        metrics["step_time_ratio"] = refine_step_ratio()
        metrics["from_run"] = str(run_path.name)
        results[kind] = metrics
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.runs) if args.runs else Path(tmp)
        for kind in kinds:
            print(f"training {kind} ...", flush=True)
            before_run = os.getloadavg() if hasattr(os, "getloadavg") else None
            results[kind] = train_model(kind, out, args.quick, args.threads)
            results[kind].update(threads=args.threads or torch.get_num_threads(),
                                 load_average_at_start=before_run)
            print(json.dumps({kind: results[kind]}), flush=True)
    widths = RotatedMNISTConfig().widths
    before = torch.get_num_threads()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if not kinds and args.update and path.is_file():  # nothing trained: keep the stored timing
        timing = json.loads(path.read_text())["step_time"]
    else:
        timing = step_times(widths, RotatedMNISTConfig().train.batch_size,
                            repeats=4 if args.quick else 30)
    torch.set_num_threads(before)
    payload = {
        "benchmark": "giae_images",
        "quick": args.quick,
        "seconds": time.perf_counter() - started,
        "environment": {"torch": torch.__version__, "python": platform.python_version(),
                        "threads": args.threads or torch.get_num_threads(),
                        "cpus": os.cpu_count(),
                        "load_average_at_start": load},
        "data": "bundled MNIST sample, fixed 8,000/2,000 split, uniformly random angles",
        "models": results,
        "step_time": timing,
        "reference": {k: {"rec_mse": v[0], "knn_acc": v[1]} for k, v in REFERENCE.items()},
        "readme_rows": [] if args.quick else readme_rows(results, timing),
    }
    write_results(path, payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
