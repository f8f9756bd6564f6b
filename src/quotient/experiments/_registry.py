"""Where each named experiment lives: name -> module path, imported only when needed.

To add an experiment, write a module that defines ``EXPERIMENT = Experiment(...)`` and add one
line below. ``EXPERIMENTS`` are run by ``quotient train NAME``; ``DYNAMICS`` (equivariance versus
augmentation training dynamics) by ``quotient dynamics NAME``.
"""

from __future__ import annotations

EXPERIMENTS: dict[str, str] = {
    "digits-c4": "quotient.experiments.digits_c4",
    "rotated-mnist": "quotient.experiments.rotated_mnist",
    "se2-mnist": "quotient.experiments.se2_mnist",
    "shifted-signals": "quotient.experiments.shifted_signals",
    "digit-sets": "quotient.experiments.digit_sets",
    "tetris": "quotient.experiments.tetris",
    "tetrominoes": "quotient.experiments.tetrominoes",
    "qm9": "quotient.experiments.qm9",
    "graphs": "quotient.experiments.graphs",
    "sets": "quotient.experiments.sets",
    "points": "quotient.experiments.points",
    "volumes": "quotient.experiments.volumes",
}

DYNAMICS: dict[str, str] = {
    "c4-cnn": "quotient.experiments.dynamics_c4_cnn",
    "mlp-graphs": "quotient.experiments.dynamics_mlp_graphs",
    "mlp-translations": "quotient.experiments.dynamics_mlp_translations",
    "mlp-shapes": "quotient.experiments.dynamics_mlp_shapes",
}
