"""Rebuild ``src/quotient/data/bundled/graphs8.npz``: all 12,346 non-isomorphic graphs on 8 nodes.

Source: nauty's ``geng`` (Debian/Ubuntu package ``nauty``, binary ``nauty-geng``; elsewhere the
binary is called ``geng``). ``geng 8`` writes one graph per isomorphism class as a graph6 line;
this script reads them with networkx and stores each graph's 28 upper-triangle entries
``A[i, j], i < j`` (``numpy.triu_indices(8, 1)`` order, row by row) packed into 4 bytes
(``numpy.packbits``, big-endian bit order, 4 padding zero bits at the end).

Arrays of the ``.npz``:

* ``upper_bits`` — uint8 ``(12346, 4)``, in geng's output order;
* ``n_nodes`` — int64 scalar, 8.

The file is written byte-for-byte deterministically (sorted members, fixed zip timestamps), so a
rebuild reproduces the committed SHA-256 (printed at the end).

Usage (from the repository root)::

    python scripts/build_graphs8.py [--geng nauty-geng] [--out PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "quotient" / "data" / "bundled" / "graphs8.npz"
N_NODES = 8
EXPECTED = 12346  # OEIS A000088(8): graphs on 8 unlabelled nodes


def geng_graph6(geng: str, n: int) -> list[bytes]:
    """The graph6 lines ``geng -q n`` prints (one per isomorphism class)."""
    exe = shutil.which(geng) or shutil.which("geng")
    if exe is None:
        raise SystemExit(f"{geng!r} not found; install nauty (apt-get install nauty) or pass "
                         "--geng PATH")
    out = subprocess.run([exe, "-q", str(n)], check=True, capture_output=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def pack_upper(lines: list[bytes], n: int) -> np.ndarray:
    """graph6 lines -> uint8 ``(G, ceil(n(n-1)/2 / 8))`` packed upper triangles."""
    import networkx as nx

    iu = np.triu_indices(n, 1)
    rows = []
    for line in lines:
        g = nx.from_graph6_bytes(line)
        if g.number_of_nodes() != n:
            raise SystemExit(f"geng gave a graph with {g.number_of_nodes()} nodes, expected {n}")
        adj = nx.to_numpy_array(g, nodelist=range(n), dtype=np.uint8)
        rows.append(adj[iu])
    return np.packbits(np.stack(rows), axis=1, bitorder="big")


def save_npz_deterministic(path: Path, **arrays: np.ndarray) -> None:
    """Write an ``.npz`` (readable by ``np.load``) whose bytes depend only on the arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            array = np.asarray(arrays[key])  # ascontiguousarray would turn a scalar into (1,)
            np.lib.format.write_array(buffer, array if array.flags.c_contiguous
                                      else array.copy(order="C"))
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue(), compresslevel=9)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geng", default="nauty-geng", help="the geng binary")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .npz path")
    args = parser.parse_args(argv)
    lines = geng_graph6(args.geng, N_NODES)
    if len(lines) != EXPECTED:
        raise SystemExit(f"geng printed {len(lines)} graphs, expected {EXPECTED}")
    bits = pack_upper(lines, N_NODES)
    save_npz_deterministic(args.out, upper_bits=bits, n_nodes=np.array(N_NODES, dtype=np.int64))
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({bits.shape[0]} graphs, {args.out.stat().st_size} bytes), "
          f"SHA-256 {digest}")


if __name__ == "__main__":
    main()
