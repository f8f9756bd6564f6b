"""What every metric and every plot of a run means, written once.

The run report (:func:`quotient.report.build_report`) and the documentation site's metrics page
read the same table, so a metric is explained in one place. Names are composed: a base name
(``inv_err``, ``rec_mse``, ``pose_err_exact_angle_deg``, ...) with optional parts that
:func:`describe_metric` reads off in turn:

* a prefix ``baseline_`` (a companion model of the same run), ``test_`` / ``train_`` (the
  split), ``equi_<space>/``, ``hessian/`` or ``<space>/<strategy>/`` (dynamics experiments);
* a suffix ``_f64`` (re-checked in float64 on a copy of the model), ``_p50`` / ``_p99`` /
  ``_p999`` (quantiles over test samples), ``_mean``, ``_median``, ``_std``, ``_max``,
  ``_min``;
* patterns such as ``inv_err_{setting}`` or ``transfer_mae_{pct}pct_{init}``.

>>> info = describe_metric("inv_err_exact_f64")
>>> info.unit, info.better
('relative (1 = code spread)', 'lower')
>>> describe_metric("transfer_mae_25pct_pretrained").unit
'eV'
>>> describe_metric("no_such_metric") is None
True
>>> plot_caption("learning_curve") is not None
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["MetricInfo", "PLOT_CAPTIONS", "REFERENCES", "describe_metric", "metric_table",
           "plot_caption", "reference_figure", "undescribed"]

Better = Literal["lower", "higher", ""]


@dataclass(frozen=True)
class MetricInfo:
    """The meaning of one metric.

    Attributes:
        name: the metric's key in ``metrics.json``.
        meaning: one line saying what is measured and on what.
        unit: its unit (``"fraction"`` for accuracies in [0, 1], ``"relative"`` for a ratio,
            ``"count"``, ``"s"``, ...).
        better: ``"lower"`` or ``"higher"`` when one direction is better, else ``""``.
    """

    name: str
    meaning: str
    unit: str
    better: Better = ""


_REL = "relative (1 = code spread)"
_RELN = "relative (‖a − b‖ / ‖b‖)"

# Base names: meaning, unit, better. Words in braces are filled from the pattern's groups.
_EXACT: dict[str, tuple[str, str, Better]] = {
    "rec_mse": ("mean squared error of the reconstruction x̂ = ρ(g)·δ(z) against the input, "
                "test split", "squared input units", "lower"),
    "rec": ("mean squared error of the reconstruction on (a sample of) the test split, logged "
            "during training", "squared input units", "lower"),
    "rec_bce": ("binary cross-entropy of the reconstructed edge probabilities, test split",
                "nats per entry", "lower"),
    "rec_nll": ("negative log-likelihood of the reconstructed elements, test split",
                "nats per element", "lower"),
    "knn_acc": ("5-nearest-neighbour accuracy of the labels from the invariant codes z (fitted "
                "on the training codes, scored on the test codes)", "fraction", "higher"),
    "linear_acc": ("accuracy of a linear probe (logistic regression) on the codes z, trained on "
                   "the training codes and scored on the test codes", "fraction", "higher"),
    "cluster_acc": ("accuracy of an unsupervised clustering of the codes (Ward linkage, "
                    "clusters matched to labels by the Hungarian method)", "fraction", "higher"),
    "element_acc": ("share of set elements reconstructed to their right class",
                    "fraction", "higher"),
    "set_acc": ("share of sets reconstructed with every element right", "fraction", "higher"),
    "edge_acc": ("share of adjacency entries reconstructed right", "fraction", "higher"),
    "graph_acc": ("share of graphs reconstructed exactly (every edge right)",
                  "fraction", "higher"),
    "type_acc": ("share of points (atoms) whose type is reconstructed right",
                 "fraction", "higher"),
    "rmsd": ("root-mean-square distance between reconstructed and input points after the "
             "pose is applied, mean over test samples", "input length units (Å for QM9)",
             "lower"),
    "perm_recovery": ("share of test samples whose element order is recovered exactly under "
                      "random permutations", "fraction", "higher"),
    "canonical_agreement": ("share of isomorphic test graphs mapped to the same canonical "
                            "adjacency", "fraction", "higher"),
    "chiral_knn_acc": ("kNN accuracy telling the two mirror-image shapes apart from their "
                       "codes (an SO(3) code must separate them)", "fraction", "higher"),
    "mirror_knn_acc": ("kNN accuracy telling mirror images apart from their codes",
                       "fraction", "higher"),
    "chiral_gap": ("distance between the mean codes of the two mirror-image shapes, in units "
                   "of the codes' spread", "relative", "higher"),
    "test_acc": ("classification accuracy on the test split", "fraction", "higher"),
    "test_accuracy": ("classification accuracy on the test split", "fraction", "higher"),
    "test_loss": ("mean loss on the test split", "loss units", "lower"),
    "mae": ("mean absolute error of the predicted property", "property units (eV for the "
            "QM9 gap)", "lower"),
    "accuracy": ("classification accuracy", "fraction", "higher"),
    "dynamics_accuracy": ("test accuracy of the network at the end of the dynamics run",
                          "fraction", "higher"),
    "pretrained_test_accuracy": ("test accuracy of the network before the dynamics phase",
                                 "fraction", "higher"),
    "invariance_error": ("relative change of the network's output under the group action "
                         "(0 for an invariant network)", "relative", "lower"),
    "risk": ("value of the (augmented) risk at the end of the run", "loss units", "lower"),
    "loss": ("training loss (mean over the logging window)", "loss units", "lower"),
    "lr": ("learning rate at this step", "1/step", ""),
    "train_seconds": ("wall-clock time spent training (excludes evaluation)", "s", "lower"),
    "eval_seconds": ("wall-clock time of the final evaluation", "s", "lower"),
    "seconds": ("wall-clock time of the whole experiment", "s", "lower"),
    "transfer_seconds": ("wall-clock time of the downstream transfer study", "s", "lower"),
    "transfer_seconds_per_run": ("mean wall-clock time of one transfer run", "s", "lower"),
    "transfer_steps": ("training steps of each transfer run", "count", ""),
    "transfer_seeds": ("seeds (repeats) of each transfer setting", "count", ""),
    "transfer_config": ("settings of the transfer study", "settings", ""),
    "ms_per_step": ("mean wall-clock time of one training step", "ms", "lower"),
    "steps": ("training steps taken", "count", ""),
    "n_params": ("trainable parameters of the model", "count", ""),
    "n_train": ("training samples", "count", ""),
    "n_test": ("test samples", "count", ""),
    "train_classes": ("classes (isomorphism classes) in the training split", "count", ""),
    "test_classes": ("classes (isomorphism classes) in the test split", "count", ""),
    "stop_reason": ("why training stopped: done (all epochs), max_steps or time_limit "
                    "(resumable)", "label", ""),
    "commutator": ("largest ‖[P_L, ρ̄(g)]‖: 0 when the weight space L is compatible with the "
                   "group action, so augmentation and equivariance can agree", "norm", ""),
    "dim_L": ("dimension of the weight space L of the network", "count", ""),
    "dim_E": ("dimension of the equivariant subspace E ⊂ L", "count", ""),
    "gradient_tol": ("gradient-norm tolerance of a stationary point (setting)", "norm", ""),
    "sgd_lr1": ("first learning rate of the SGD runs (setting)", "1/step", ""),
    "sgd_lr2": ("second learning rate of the SGD runs (setting)", "1/step", ""),
    "canon_same_exact": ("share of test samples whose canonical form is bit-identical under "
                         "every exact group element", "fraction", "higher"),
}

# (regex, meaning with {group} placeholders, unit, better); tried in order after _EXACT.
_PATTERNS: list[tuple[str, str, str, Better]] = [
    (r"inv_err_(?P<setting>[a-z0-9]+)",
     "invariance error of the code z: ‖z(g·x) − z(x)‖ / spread of z, {setting_text}",
     _REL, "lower"),
    (r"inv_err", "invariance error of the code z: ‖z(g·x) − z(x)‖ / spread of z", _REL, "lower"),
    (r"inv_frac_above_(?P<tol>.+)",
     "share of test samples whose invariance error exceeds {tol}", "fraction", "lower"),
    (r"rec_err_(?P<setting>[a-z0-9]+)",
     "equivariance error of the reconstruction: ‖x̂(g·x) − g·x̂(x)‖ / ‖g·x̂(x)‖, "
     "{setting_text}", _RELN, "lower"),
    (r"canon_err_(?P<setting>[a-z0-9]+)",
     "canonicalisation error: ‖c(g·x) − c(x)‖ / ‖c(x)‖ of the canonical form c = δ(z), "
     "{setting_text}", _RELN, "lower"),
    (r"canon_same_(?P<setting>[a-z0-9]+)",
     "share of test samples whose canonical form is bit-identical, {setting_text}",
     "fraction", "higher"),
    (r"pose_err_(?P<setting>[a-z0-9]+)_angle_deg",
     "pose equivariance error: angle between ψ(g·x) and g·ψ(x), {setting_text}",
     "degrees", "lower"),
    (r"pose_err_(?P<setting>[a-z0-9]+)_rotation(?P<framed>_framed)?",
     "pose equivariance error of the rotation: ‖R(g·x) − R_g R(x)‖_F / √3, {setting_text}"
     "{framed_text}", "relative (Frobenius / √3)", "lower"),
    (r"pose_err_(?P<setting>[a-z0-9]+)_translation",
     "pose equivariance error of the translation, relative to its length, {setting_text}",
     "relative", "lower"),
    (r"pose_err_(?P<setting>[a-z0-9]+)_order",
     "share of test samples whose element order is not permuted along with the input, "
     "{setting_text}", "fraction", "lower"),
    (r"pose_err_(?P<setting>[a-z0-9]+)_shift",
     "pose equivariance error of the shift, {setting_text}", "samples (grid steps)", "lower"),
    (r"pose_err_(?P<setting>[a-z0-9]+)(_(?P<part>[a-z0-9_]+))?",
     "pose equivariance error{part_text}, {setting_text}", "as the part",
     "lower"),
    (r"pose_err_deg(_any)?", "pose equivariance error under random angles", "degrees", "lower"),
    (r"trans_err_shift_px", "error of the predicted shift under integer translations",
     "pixels", "lower"),
    (r"trans_err_true_px(_(?P<stat>p95|max))?",
     "distance between the predicted translation and each test digit's true ink centroid "
     "(mean; p95: 95th percentile, max: worst)", "pixels", "lower"),
    (r"trans_err_frame_px", "distance between the predicted translation and the position "
     "where the digit's frame was placed (its ink centroid need not sit there)", "pixels",
     "lower"),
    (r"(?P<what>rot|trans|order)_err(_line)?",
     "equivariance error of the {what} part of the pose", "relative", "lower"),
    (r"rec_mse_(?P<group>.+)", "reconstruction MSE of the test samples of class {group}",
     "squared input units", "lower"),
    (r"transfer_mae_(?P<pct>\d+)pct_(?P<init>[a-z_]+?)(_(?P<stat>mean|std|train_mean))?",
     "mean absolute error of a property head trained on {pct} % of the labels, encoder "
     "{init_text}{stat_text}", "eV", "lower"),
    (r"transfer_n_labels_(?P<pct>\d+)pct", "labelled molecules in the {pct} % transfer split",
     "count", ""),
    (r"layer(?P<j>\d+)_drift", "drift ‖A − A⁰‖ of layer {j}'s weights from the start",
     "norm", ""),
    # dynamics experiments: summaries of the trajectories of each strategy
    (r"distance_final", "distance ‖A − Π_E A‖ of the final weights from the equivariant "
     "subspace E (0: the training stayed equivariant)", "norm", ""),
    (r"relative_distance_final", "distance of the final weights from E relative to their norm",
     "relative", ""),
    (r"distance_max_over_steps", "largest distance of the weights from E during training",
     "norm", ""),
    (r"distance_after_(?P<n>\d+)_aug_steps_from_E",
     "distance from E after {n} augmented steps started in E", "norm", ""),
    (r"drift_final", "drift ‖A − A⁰‖ of the final weights from the common start A⁰ ∈ E",
     "norm", ""),
    (r"loss_final", "training loss at the final step", "loss units", "lower"),
    (r"runs", "runs (seeds) summarised", "count", ""),
    (r"gradient_(?P<block>E|perp)", "norm of the risk gradient projected onto {block}",
     "norm", "lower"),
    (r"(?P<block>E|perp)_(?P<end>min|max)(_without_penalties)?",
     "{end}imal eigenvalue of the Hessian block on {block} (stable when the minimum is > 0)",
     "loss units / norm²", ""),
    (r"(?P<block>E|perp)_residual", "residual of the eigenvalue estimate on {block}",
     "relative", "lower"),
    (r"dim_(?P<block>perp)", "dimension of the complement E⊥ of E in L", "count", ""),
    (r"penalty_shift", "shift of every Hessian eigenvalue by the weight penalties (λ + γ)",
     "loss units / norm²", ""),
]

_SETTINGS = {
    "exact": "under the exact group (e.g. quarter turns, permutations): worst element, worst "
             "test sample",
    "any": "under the approximate symmetry (e.g. any angle): one random element per test "
           "sample, mean over samples",
    "rot90": "worst case over quarter turns",
    "quarter": "worst case over quarter turns",
    "se2": "mean over test samples under random rotations and shifts (SE(2))",
}

_MODIFIERS: list[tuple[str, str]] = [
    ("_f64", "; re-checked in float64 on a copy of the model (what remains is the design's "
             "error, not float32 rounding)"),
    ("_p999", "; 99.9th percentile over test samples instead of the headline statistic"),
    ("_p99", "; 99th percentile over test samples instead of the headline statistic"),
    ("_p50", "; median over test samples instead of the headline statistic"),
    ("_mean", "; mean (over test samples, or over runs) instead of the worst case"),
    ("_median", "; median over runs"),
    ("_std", "; standard deviation over runs"),
    ("_max", "; maximum over runs or samples"),
    ("_min", "; minimum over runs or samples"),
    ("_rigid", "; on the rigid test graphs only (those whose automorphism group is trivial)"),
]

_PREFIXES: list[tuple[str, str]] = [
    ("baseline_", "baseline model trained in the same run: "),
    ("test_", "test split: "),
    ("train_", "training split: "),
]

_SLASHED = {
    "hessian": "Hessian of the risk at the EQUI stationary point: ",
    "equi": "EQUI (equivariant) training to a stationary point, {space} weight space: ",
}


def _fill(template: str, groups: dict[str, str | None]) -> str:
    setting = groups.get("setting") or ""
    extra = {
        "setting_text": _SETTINGS.get(setting, f"measured on {setting.replace('_', ' ')}"),
        "part_text": (f" of the {groups['part'].replace('_', ' ')} part of the pose"
                      if groups.get("part") else ""),
        "framed_text": ", in the frame that fixes the shape" if groups.get("framed") else "",
        "init_text": {"pretrained": "initialised from the trained autoencoder",
                      "scratch": "trained from scratch",
                      "probe_pretrained": "frozen (trained autoencoder), linear probe",
                      "probe_random": "frozen at random initialisation, linear probe"}.get(
            groups.get("init") or "", f"'{groups.get('init')}'"),
        "stat_text": {"mean": " (mean over seeds)", "std": " (std over seeds)",
                      "train_mean": " (on its training labels, mean over seeds)"}.get(
            groups.get("stat") or "", ""),
    }
    values = {k: (v or "").replace("_", " ") for k, v in groups.items()} | extra
    return template.format(**values)


def describe_metric(name: str) -> MetricInfo | None:
    """The meaning and unit of metric ``name``, or ``None`` if nothing describes it.

    Exact names win; then a dynamics path (``a/b/metric``), a prefix or a suffix is read off
    (see the module docstring) and the rest described recursively; patterns come last, so a
    pattern never swallows a suffix such as ``_mean``.
    """
    if name in _EXACT:
        meaning, unit, better = _EXACT[name]
        return MetricInfo(name, meaning, unit, better)
    head, sep, tail = name.partition("/")
    if sep:  # dynamics: "<space>/<strategy>/<metric>", "hessian/<metric>", "equi_<space>/..."
        inner = describe_metric(tail)
        if inner is None:
            return None
        if head == "hessian":
            lead = _SLASHED["hessian"]
        elif head.startswith("equi_"):
            lead = _SLASHED["equi"].format(space=head[5:])
        else:
            lead = f"{head.replace('_', ' ')}: "
        return replace(inner, name=name, meaning=lead + inner.meaning)
    for prefix, lead in _PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            inner = describe_metric(name[len(prefix):])
            if inner is not None:
                return replace(inner, name=name, meaning=lead + inner.meaning)
    for suffix, note in _MODIFIERS:
        if name.endswith(suffix) and len(name) > len(suffix):
            inner = describe_metric(name[:-len(suffix)])
            if inner is not None:
                return replace(inner, name=name, meaning=inner.meaning + note)
    for regex, meaning, unit, better in _PATTERNS:
        match = re.fullmatch(regex, name)
        if match:
            return MetricInfo(name, _fill(meaning, match.groupdict()), unit, better)
    return None


def metric_table() -> list[tuple[str, str, str]]:
    """Every base name and pattern with its meaning and unit (for the documentation site):
    ``(name or pattern, meaning, unit)``; patterns are shown with their groups in braces."""
    rows = [(name, meaning, unit) for name, (meaning, unit, _) in _EXACT.items()]
    for regex, meaning, unit, _ in _PATTERNS:
        shown = re.sub(r"\(\?P<(\w+)>[^()]*\)", r"{\1}", regex)  # named groups
        shown = re.sub(r"\(([^()]*)\)\?", r"[\1]", shown)  # optional parts
        shown = shown.replace("}?", "}").replace("\\d+", "N")
        rows.append((shown, re.sub(r"\{\w+_text\}", "…", meaning), unit))
    return rows


# Reference figures: the paper's (or its reference code's) figure, or the baseline's from the
# same benchmark (benchmarks/results/*.json), keyed by experiment and metric name.
REFERENCES: dict[str, dict[str, str]] = {
    "rotated-mnist": {
        "rec_mse": "0.0162 (Winter et al. 2022, GIAE; classical AE 0.017)",
        "knn_acc": "0.90 (Winter et al. 2022, GIAE; classical AE 0.68)",
        "inv_err_exact": "≤ 1e-5 (acceptance: exact under quarter turns in float32)",
        "inv_err_any": "1.13 for the augmented AE (benchmarks/results/giae_images.json)",
    },
    "digit-sets": {
        "element_acc": "0.997 (Winter et al. 2022, 10 min); classical AE 0.43",
        "set_acc": "0.957 (Winter et al. 2022, 10 min); classical AE 0.00",
    },
    "tetris": {
        "rec_mse": "1.4e-4 after 10 min, 3.2e-5 long (Winter et al. 2022)",
    },
    "graphs": {
        "graph_acc": "≥ 0.9 (acceptance); classical AE 0.997 with a 32-d code, 0.04 with 8-d",
    },
    "c4-cnn": {
        "exact/distance_final_max": "≤ 1e-10 (Nordenfors et al. 2025: exact AUG stays in E)",
    },
}
"""Reference figures by experiment and metric: the paper's, or a baseline's from the same
benchmark."""


def reference_figure(experiment: str, metric: str) -> str | None:
    """The reference figure for ``metric`` of ``experiment`` (the paper's, or a baseline's
    from the same benchmark), or ``None`` where there is none."""
    table = REFERENCES.get(experiment, {})
    if metric in table:
        return table[metric]
    for key, text in table.items():  # "cross/exact/distance_final_max" matches "exact/..."
        if metric.endswith("/" + key):
            return text
    return None


# Captions of the figures in a run's plots/ folder: what the figure shows and what to look for.
PLOT_CAPTIONS: dict[str, str] = {
    "learning_curve": "Training loss per logged step (and the test figures logged every few "
                      "epochs). Look for a steady fall that flattens; a rising test curve "
                      "while the training loss falls means overfitting, spikes suggest a "
                      "lower learning rate.",
    "embedding": "The invariant codes z of test samples in 2-d (t-SNE or PCA), coloured by "
                 "label. Look for one cluster per class: the code ignores the pose, so "
                 "rotated or relabelled copies of one object land together.",
    "images": "Rows: test inputs, their reconstructions x̂ = ρ(θ)·δ(z) and the canonical "
              "images δ(z). Look for reconstructions that match the inputs and canonical "
              "images that all stand the same way up, whatever the input's angle.",
    "signals": "Test signals, their reconstructions and canonical (unshifted) forms. Look for "
               "reconstructions on top of the inputs and canonical forms aligned with one "
               "another.",
    "pose": "Predicted against true pose of test samples (circular axes). Points on a diagonal "
            "line (any constant offset is fine: the canonical pose is learned) mean the pose "
            "network recovers the transformation; scatter means it does not.",
    "reconstructions": "Input graphs, their reconstructions and canonical forms. Look for "
                       "reconstructed edges that match the input's edges.",
    "losses": "Training loss of the model and the baseline. Look for where each levels off "
              "and which ends lower.",
    "test_accuracy": "Test accuracy over training. Look for a rising curve that levels off; "
                     "compare the levels of the curves shown.",
    "transfer": "Property error against the share of labels used, for a head on the "
                "pre-trained encoder and one trained from scratch. Look for the pre-trained "
                "curve lying below the scratch curve with few labels.",
    "translation": "Predicted against true translation of test samples. Points on a line "
                   "mean the translation part of the pose is equivariant.",
    "volumes": "Maximum-intensity projections of test volumes along the three axes, with "
               "reconstructions and canonical forms. Look for matching inputs and "
               "reconstructions, and canonical forms in one orientation.",
    "distance_over_steps": "Distance of the weights from the equivariant subspace E over "
                           "training, one curve per strategy (NOM, AUG, EQUI). Look for EQUI "
                           "and exact AUG staying at zero on a compatible space, and "
                           "nominal training leaving E.",
    "drift_vs_distance": "Drift ‖A − A⁰‖ of the weights from the start against their "
                         "distance ‖A_E⊥‖ from E. Points on the horizontal axis drift inside "
                         "E only; height means the training left the equivariant subspace.",
    "aug_distance": "Distance from E of augmented training, per weight space and augmentation "
                    "(exact, orbit-complete, random SGD). Look for the compatible space "
                    "staying at float rounding, the incompatible one leaving E.",
    "stationary_point": "EQUI training to a stationary point: risk and projected gradient "
                        "norm over steps. Look for the gradient norm falling below the "
                        "tolerance.",
}
"""Caption of each figure a run may write to ``plots/<name>.png``: what it shows and what to
look for."""


def plot_caption(stem: str) -> str | None:
    """The caption of figure ``plots/<stem>.png``, or ``None`` for a figure nothing describes
    (a prefix such as ``cross_`` of a nested figure is read off)."""
    if stem in PLOT_CAPTIONS:
        return PLOT_CAPTIONS[stem]
    for known, caption in PLOT_CAPTIONS.items():
        if stem.endswith("_" + known):
            return f"{stem[:-len(known) - 1].replace('_', ' ')}: {caption}"
    return None


def undescribed(names: Iterable[str]) -> list[str]:
    """The names among ``names`` that :func:`describe_metric` does not describe."""
    return [n for n in names if describe_metric(n) is None]
