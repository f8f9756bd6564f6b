"""The bad-input matrix: your own data files and setting values that cannot work.

Each case is run through the command line: one line on stderr naming the problem (and the fix),
exit status 2, no traceback, and no run directory left behind. Together with the cases of
``test_cli_errors.py`` (commands, options, config files, run directories) this is the matrix of
user errors.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from _cli_helpers import main_single_thread

from quotient.cli import main
from quotient.data.user import load_image_file, load_point_file
from quotient.errors import DataError, MissingDataError

_RNG = np.random.default_rng(0)


def _digits(n: int = 20, size: int = 16, dtype: str = "uint8") -> np.ndarray:
    x = _RNG.integers(0, 256, size=(n, size, size))
    return x.astype(np.uint8) if dtype == "uint8" else (x / 255.0).astype(dtype)


def _labels(n: int = 20) -> np.ndarray:
    return np.arange(n) % 3


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _truncated(path):
    _npz(path, images=_digits(), labels=_labels())
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


def _object_array(path):
    images = np.empty(2, dtype=object)
    images[0], images[1] = np.zeros((16, 16)), np.zeros((8, 8))
    np.savez(path, images=images, labels=np.arange(2))
    return path


def _single_array(path):
    with path.open("wb") as fh:
        np.save(fh, _digits())
    return path


def _with_nan(path):
    x = _digits(dtype="float32")
    x[3, 5, 5] = np.nan
    return _npz(path, images=x, labels=_labels())


def _sets(n: int = 20, k: int = 5, d: int = 3) -> np.ndarray:
    return _RNG.normal(size=(n, k, d))


def _graphs(n: int = 20, k: int = 5) -> np.ndarray:
    upper = np.triu(_RNG.random((n, k, k)) < 0.5, 1)
    return (upper | upper.transpose(0, 2, 1)).astype(np.uint8)


def _with(array: np.ndarray, index: tuple, value: float) -> np.ndarray:
    array = array.astype(np.float64) if isinstance(value, float) else array.copy()
    array[index] = value
    return array


def _real_without_type(path):
    types = _with(_RNG.integers(0, 3, (20, 5)), (3, 2), -1)
    return _npz(path, points=_sets(d=2), mask=np.ones((20, 5), bool), types=types)


def _object_types(path):
    types = np.empty(20, dtype=object)
    types[:] = [[0, 1]] * 20
    return _npz(path, points=_sets(), types=types)


def _edge_at_padding(path):
    adjacency = _graphs()
    adjacency[0, 0, 4] = adjacency[0, 4, 0] = 1
    return _npz(path, adjacency=adjacency, mask=np.arange(5)[None] < np.full((20, 1), 4))


@dataclass(frozen=True)
class _File:
    """A data file for another experiment than rotated-mnist (its case name starts with it)."""

    experiment: str
    make: Callable[[Path], Path]

    def __call__(self, path: Path) -> Path:
        return self.make(path)


# name -> (make the file in tmp (or None: no file), extra --set values, expected message); the
# file goes to rotated-mnist with n_train=12 n_test=4, or to make.experiment (sets, points,
# graphs) without other settings
DATA_CASES = {
    "data file missing": (None, [], "data file {f} does not exist"),
    "data file is a folder": (lambda p: (p.mkdir(), p)[1], [], "is a folder"),
    "data file is text": (lambda p: (p.write_text("1,2,3\n"), p)[1], [],
                          "is not a readable .npz archive"),
    "data file truncated": (_truncated, [], "is not a readable .npz archive"),
    "data file holds one array": (_single_array, [], "holds a single array"),
    "no labels array": (lambda p: _npz(p, images=_digits()), [],
                        "has no array 'labels' (it holds: images"),
    "misspelt images array": (lambda p: _npz(p, image=_digits(), labels=_labels()), [],
                              "has no array 'images'"),
    "object arrays": (_object_array, [], "holds pickled Python objects (object arrays), and "
                      "unpickling them could run code"),
    "images flat (N, 784)": (lambda p: _npz(p, images=np.zeros((20, 784), np.uint8),
                                            labels=_labels()), [],
                             "images must be (N, H, W) or (N, C, H, W), got shape (20, 784)"),
    "images int32": (lambda p: _npz(p, images=_digits().astype(np.int32), labels=_labels()), [],
                     "images must be uint8 (0–255) or floating point (0–1), got int32"),
    "images complex": (lambda p: _npz(p, images=_digits().astype(np.complex64),
                                      labels=_labels()), [], "got complex64"),
    "images NaN": (_with_nan, [], "must be finite and in [0, 1]"),
    "float images 0-255": (lambda p: _npz(p, images=_digits().astype(np.float32),
                                          labels=_labels()), [], "rescale them first"),
    "no images": (lambda p: _npz(p, images=np.zeros((0, 16, 16), np.uint8),
                                 labels=np.zeros(0, np.int64)), [], "holds no images"),
    "images not square": (lambda p: _npz(p, images=np.zeros((20, 16, 12), np.uint8),
                                         labels=_labels()), [], "must be square"),
    "side not divisible by 4": (lambda p: _npz(p, images=_digits(size=18), labels=_labels()), [],
                                "image side 18 must be divisible by 4"),
    "labels too short": (lambda p: _npz(p, images=_digits(), labels=_labels(19)), [],
                         "labels must have shape (20,) (one per sample), got (19,)"),
    "labels fractional": (lambda p: _npz(p, images=_digits(), labels=_labels() + 0.5), [],
                          "labels must be integers, got torch.float64"),
    "labels negative": (lambda p: _npz(p, images=_digits(), labels=_labels() - 1), [],
                        "labels must be >= 0, found -1"),
    "split larger than the data": (lambda p: _npz(p, images=_digits(), labels=_labels()),
                                   ["n_train=8000"], "exceeds the 20 images of"),
    "images channels-last": (lambda p: _npz(p, images=np.zeros((20, 16, 16, 3), np.uint8),
                                            labels=_labels()), [],
                             "look channels-last (N, H, W, C); store them as (N, C, H, W), e.g. "
                             "images.transpose(0, 3, 1, 2)"),
    "split leaves no test images": (lambda p: _npz(p, images=_digits(), labels=_labels()),
                                    ["n_train=20", "n_test=none"],
                                    "n_train = 20 leaves none of the 20 images of"),
    "batch larger than the training split": (
        lambda p: _npz(p, images=_digits(), labels=_labels()), [],
        "train.batch_size=64 is larger than the 12 training images of {f}; pass e.g. --set "
        "train.batch_size=3"),
    "sets: no elements array": (_File("sets", lambda p: _npz(p, element=_sets())), [],
                                "has no array 'elements'"),
    "sets: one set (n, d), not (N, n, d)": (
        _File("sets", lambda p: _npz(p, elements=_sets()[0])), [],
        "elements must have shape (N, n, d) (N sets of n elements of d features), got (5, 3); "
        "for sets of single numbers use elements[..., None]"),
    "sets: NaN at a real element": (
        _File("sets", lambda p: _npz(p, elements=_with(_sets(), (2, 1, 0), np.nan))), [],
        "NaN or infinite values at a real element (element 1 of set 2); repair it or mark it "
        "as padding (mask False)"),
    "sets: mask of the wrong shape": (
        _File("sets", lambda p: _npz(p, elements=_sets(), mask=np.ones((20, 4), bool))), [],
        "mask must have shape (N, n) = (20, 5), one entry per element (True = real), got "
        "(20, 4)"),
    "sets: mask not 0/1": (
        _File("sets", lambda p: _npz(p, elements=_sets(), mask=np.full((20, 5), 2))), [],
        "mask must be boolean (True = real element), got int64 values other than 0/1"),
    "sets: misspelt mask": (
        _File("sets", lambda p: _npz(p, elements=_sets(), maks=np.ones((20, 5), bool))), [],
        "holds an array 'maks', not used by this kind of data; did you mean 'mask'?"),
    "sets: a set without elements": (
        _File("sets", lambda p: _npz(p, elements=_sets(),
                                     mask=_with(np.ones((20, 5), bool), (7,), False))), [],
        "set 7 has no real element (mask all False); drop it"),
    "sets: set above max_elements": (
        _File("sets", lambda p: _npz(p, elements=_sets())), ["max_elements=3"],
        "set 0 has 5 real elements, above max_elements=3; raise it (--set max_elements=5) or "
        "drop the larger sets"),
    "sets: labels too short": (
        _File("sets", lambda p: _npz(p, elements=_sets(), labels=_labels(19))), [],
        "labels must have shape (20,) (one per sample), got (19,)"),
    "sets: one set only": (_File("sets", lambda p: _npz(p, elements=_sets(1))), [],
                           "holds too few sets (1); a split needs at least 2"),
    "points: no points array": (_File("points", lambda p: _npz(p, positions=_sets())), [],
                                "has no array 'points'"),
    "points: 4-d coordinates": (
        _File("points", lambda p: _npz(p, points=_sets(d=4))), [],
        "points must have shape (N, n, 2) or (N, n, 3) (N clouds of n points in the plane or in "
        "space), got (20, 5, 4)"),
    "points: stored (N, d, n)": (
        _File("points", lambda p: _npz(p, points=_sets(k=3, d=6))), [],
        "transpose (N, d, n) arrays with points.transpose(0, 2, 1)"),
    "points: NaN at a real point": (
        _File("points", lambda p: _npz(p, points=_with(_sets(), (2, 1, 0), np.nan),
                                       mask=np.ones((20, 5), bool))), [],
        "NaN or infinite values at a real point (point 1 of cloud 2)"),
    "points: row partly NaN": (
        _File("points", lambda p: _npz(p, points=_with(_sets(), (4, 3, 1), np.nan))), [],
        "point 3 of cloud 4 is NaN in some coordinates only; a padding row is NaN in every "
        "coordinate (or pass a mask)"),
    "points: mask of the wrong shape": (
        _File("points", lambda p: _npz(p, points=_sets(), mask=np.ones((5, 20), bool))), [],
        "mask must have shape (N, n) = (20, 5), one entry per point (True = real), got (5, 20)"),
    "points: cloud above max_points": (
        _File("points", lambda p: _npz(p, points=_with(_sets(), (slice(None), 4), np.nan))),
        ["max_points=3"], "cloud 0 has 4 real points, above max_points=3"),
    "points: types not integers": (
        _File("points", lambda p: _npz(p, points=_sets(), types=np.zeros((20, 5)))), [],
        "types must be integers (0, 1, 2, ...; -1 = padding), got float64"),
    "points: types of the wrong shape": (
        _File("points", lambda p: _npz(p, points=_sets(), types=np.zeros((20, 4), int))), [],
        "types must have shape (N, n) = (20, 5) (one per point), got (20, 4)"),
    "points: real point without a type": (
        _File("points", _real_without_type), [],
        "point 2 of cloud 3 is real (mask True) but has type -1; give its type or mark it as "
        "padding in the mask"),
    "points: types beyond n_types": (
        _File("points", lambda p: _npz(p, points=_sets(), types=np.full((20, 5), 2))),
        ["n_types=2"], "types reach 2, beyond n_types=2 (types 0 to 1); raise it (--set "
                       "n_types=3)"),
    "points: object arrays": (_File("points", _object_types), [],
                              "holds pickled Python objects (object arrays)"),
    "graphs: no adjacency array": (_File("graphs", lambda p: _npz(p, edges=_graphs())), [],
                                   "has no array 'adjacency'"),
    "graphs: adjacency not square": (
        _File("graphs", lambda p: _npz(p, adjacency=_graphs()[:, :, :4])), [],
        "adjacency must have shape (N, n, n) (N graphs of n nodes), got (20, 5, 4)"),
    "graphs: weighted edges": (
        _File("graphs", lambda p: _npz(p, adjacency=_with(_graphs(), (1, 0, 2), 0.5))), [],
        "adjacency must hold 0/1 entries (edges), found 0.5 in graph 1; threshold weighted "
        "graphs first (adjacency > 0)"),
    "graphs: NaN in the adjacency": (
        _File("graphs", lambda p: _npz(p, adjacency=_with(_graphs(), (1, 0, 2), np.nan))), [],
        "adjacency must hold 0/1 entries (edges), found nan in graph 1"),
    "graphs: asymmetric adjacency": (
        _File("graphs", lambda p: _npz(p, adjacency=_with(np.zeros((20, 5, 5)), (3, 0, 2), 1))),
        [], "adjacency of graph 3 is not symmetric (A[0, 2] = 1, A[2, 0] = 0); store undirected "
            "graphs, e.g. A | A.T"),
    "graphs: self-loop": (
        _File("graphs", lambda p: _npz(p, adjacency=_with(_graphs(), (2, 1, 1), 1))), [],
        "graph 2 has a self-loop at node 1 (A[1, 1] = 1); set the diagonal to 0"),
    "graphs: edge at a padding node": (
        _File("graphs", _edge_at_padding), [],
        "graph 0 has an edge at padding node 4 (mask False); remove the edge or mark the node "
        "as real"),
    "graphs: mask of the wrong shape": (
        _File("graphs", lambda p: _npz(p, adjacency=_graphs(), mask=np.ones(20, bool))), [],
        "mask must have shape (N, n) = (20, 5), one entry per node (True = real), got (20,)"),
    "graphs: graph above max_nodes": (
        _File("graphs", lambda p: _npz(p, adjacency=_graphs(k=8))), [],
        "graph 0 has 8 real nodes, above max_nodes=7; raise it (--set max_nodes=8) or drop the "
        "larger graphs"),
}

VALUE_CASES = {
    "zero latent size": ("rotated-mnist", ["latent_dim=0"], "latent_dim must be > 0, got 0"),
    "negative width": ("rotated-mnist", ["widths=8,-1"],
                       "every entry of widths must be > 0, got (8, -1)"),
    "negative penalty": ("rotated-mnist", ["invariance_weight=-0.1"],
                         "invariance_weight must be >= 0, got -0.1"),
    "fraction above one": ("rotated-mnist", ["invariance_fraction=1.5"],
                           "invariance_fraction must be in (0, 1], got 1.5"),
    "zero epochs": ("rotated-mnist", ["train.epochs=0"], "train.epochs must be"),
    "negative learning rate": ("rotated-mnist", ["train.lr=-1"], "train.lr must be"),
    "unknown pose": ("rotated-mnist", ["pose=sideways"], "pose"),
    "unknown group": ("tetris", ["group=SO3"], "group"),
    "negative noise": ("tetris", ["noise=-0.01"], "noise must be >= 0, got -0.01"),
    "zero temperature": ("tetris", ["tau=0"], "tau must be > 0, got 0.0"),
    "not a number": ("tetris", ["latent_dim=two"], "bad value for latent_dim"),
    "zero split size": ("rotated-mnist", ["n_train=0"], "n_train must be > 0, got 0"),
    "sets without a data file": ("sets", ["latent_dim=4"], "sets trains on your own data: pass "
                                 "--set data=FILE.npz with elements (N, n, d)"),
    "points without a data file": ("points", ["group=E"], "points trains on your own data: "
                                   "pass --set data=FILE.npz with points (N, n, 2) or (N, n, 3)"),
    "zero max_points": ("points", ["max_points=0"],
                        "max_points must be > 0 (or none: from the data file), got 0"),
    "unknown graph data": ("graphs", ["data=atlass"], "data must be 'atlas', 'sbm' or the path "
                           "of an .npz file of your graphs, got 'atlass'"),
}


def _assert_one_line_error(code: int, err: str, message: str) -> None:
    assert code == 2, err
    assert err.startswith("quotient: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert message in err, err


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_data_file_is_one_line_and_leaves_no_run(case, tmp_path, capsys):
    make, extra, message = DATA_CASES[case]
    path = tmp_path / "mine.npz"
    if make is not None:
        path = make(path)
    out = tmp_path / "run"
    experiment = getattr(make, "experiment", "rotated-mnist")
    sizes = ["n_train=12", "n_test=4"] if experiment == "rotated-mnist" else []
    code = main(["train", experiment, "--out", str(out), "--set", f"data={path}", *sizes,
                 *extra])
    _assert_one_line_error(code, capsys.readouterr().err, message.replace("{f}", str(path)))
    assert not out.exists(), "a run that could not start must not leave a directory"


@pytest.mark.parametrize("case", list(VALUE_CASES))
def test_bad_setting_value_is_one_line(case, tmp_path, capsys):
    experiment, settings, message = VALUE_CASES[case]
    out = tmp_path / "run"
    code = main(["train", experiment, "--out", str(out), "--set", *settings])
    _assert_one_line_error(code, capsys.readouterr().err, message)
    assert not out.exists()


def test_matrix_has_at_least_25_cases():
    from test_cli_errors import CASES

    assert len(DATA_CASES) + len(VALUE_CASES) + len(CASES) >= 25


def test_own_images_train_end_to_end(tmp_path):
    """Three-channel 16x16 images from a file train, evaluate and keep the exact quarter-turn
    invariance of the code."""
    x = _RNG.random((40, 3, 16, 16)).astype(np.float32)
    path = _npz(tmp_path / "colour.npz", images=x, labels=_labels(40))
    out = tmp_path / "run"
    args = ["train", "rotated-mnist", "--out", str(out), "--set", f"data={path}", "n_train=32",
            "n_test=8", "widths=2,2", "decoder_widths=4,4,4", "latent_dim=3", "embedding=pca",
            "train.batch_size=16", "train.epochs=1", "train.progress=false", "plots=false"]
    assert main_single_thread(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_train"] == 32 and metrics["n_test"] == 8 and metrics["steps"] == 2
    assert metrics["inv_err_exact_f64"] < 1e-10


def test_point_file_loader(tmp_path):
    pts = _RNG.normal(size=(5, 4, 3))
    points, labels = load_point_file(_npz(tmp_path / "p.npz", points=pts, labels=np.arange(5)))
    assert points.dtype.is_floating_point and points.shape == (5, 4, 3)
    np.testing.assert_array_equal(points.numpy(), pts)
    assert labels.tolist() == [0, 1, 2, 3, 4]
    bad = pts.copy()
    bad[2, 1, 0] = np.inf
    cases = {
        "p1": ({"points": bad, "labels": np.arange(5)}, "NaN or infinite coordinates (first "
                                                        "in cloud 2)"),
        "p2": ({"points": pts[..., :2], "labels": np.arange(5)}, "must have shape (N, n, 3)"),
        "p3": ({"points": np.zeros((5, 0, 3)), "labels": np.arange(5)}, "empty ones"),
        "p4": ({"points": pts.astype(np.complex128), "labels": np.arange(5)}, "real numbers"),
    }
    for name, (arrays, message) in cases.items():
        with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_point_file(_npz(tmp_path / f"{name}.npz", **arrays))
    with pytest.raises(MissingDataError):
        load_point_file(tmp_path / "absent.npz")


def test_image_loader_accepts_valid_files(tmp_path):
    x = _digits(6, 8)
    data = load_image_file(_npz(tmp_path / "ok.npz", images=x, labels=np.arange(6.0)))
    assert data.images.shape == (6, 1, 8, 8) and data.labels.tolist() == list(range(6))
    np.testing.assert_allclose(data.images[:, 0].numpy(), x / 255.0, rtol=1e-6)
    path = tmp_path / "zip.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not an array")
    with pytest.raises(DataError):
        load_image_file(path)
