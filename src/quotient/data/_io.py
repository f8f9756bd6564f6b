"""File helpers for the loaders: IDX parsing, gzip detection, the cache folder, atomic writes."""

from __future__ import annotations

import gzip
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np

from quotient.errors import DataError

__all__ = ["atomic_save_npz", "default_cache_dir", "find_file", "read_bytes", "read_idx"]

CACHE_ENV_VAR = "QUOTIENT_CACHE"

# IDX type codes (third byte of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Return the contents of ``path``, transparently decompressing gzip (detected by content).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file looks gzipped but cannot be decompressed (corrupt or truncated).
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(
            f"{path} is a corrupt or truncated gzip file ({err}); delete it and obtain it again"
        ) from err


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), raw or gzipped.

    Layout: two zero bytes, a type code, the number of dimensions ``d``, then ``d`` big-endian
    uint32 sizes, then the values in C order.

    Returns:
        A native-endian numpy array of the stored type (uint8 for MNIST) and stored shape.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: bad magic number, unknown type code, or a size that does not match the header
            (truncated or padded file).
    """
    path = Path(path)
    data = read_bytes(path)
    fix = "the file is corrupt or not an IDX file; obtain it again"
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: bad IDX magic number {data[:4].hex() or '(empty)'}; {fix}")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX type code 0x{code:02x}; {fix}")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{path}: IDX header truncated ({len(data)} bytes); {fix}")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(
            f"{path}: IDX file {kind} ({len(data)} bytes, header shape {shape} needs "
            f"{expected}); {fix}"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="), copy=True)


def find_file(folder: Path, names: list[str]) -> Path | None:
    """First existing ``folder/name`` or ``folder/name.gz`` among ``names``, else ``None``."""
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def default_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$QUOTIENT_CACHE``, else ``~/.cache/quotient``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "quotient"


def atomic_save_npz(path: str | os.PathLike[str], **arrays: np.ndarray) -> Path:
    """Write ``arrays`` to a compressed ``.npz`` at ``path`` atomically (temp file, ``os.replace``).

    A reader never sees a half-written file; an interrupted write leaves no file at ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp creates 0o600; a cache is ordinary data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
