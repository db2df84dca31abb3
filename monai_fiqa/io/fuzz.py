"""Byte-level mutations of real files, for fuzzing the readers (tests and ``benchmarks/fuzz.py``).

Why in the package: the test suite runs a few hundred cases and the benchmark tens of thousands with the same
mutations, so both exercise one definition of "a damaged file".
"""

from __future__ import annotations

import numpy as np

__all__ = ["MUTATIONS", "mutate"]

MUTATIONS = ("flip_bytes", "truncate", "zero_block", "duplicate_block", "insert_bytes", "header_bytes")


def mutate(data: bytes, kind: str, rng: np.random.Generator) -> bytes:
    """A damaged copy of ``data``: random bytes changed, the file cut, a block zeroed, repeated or inserted, or the
    first 512 bytes (where headers and sizes live) scrambled."""
    buf = bytearray(data)
    n = len(buf)
    if n == 0:
        return bytes(rng.integers(0, 256, 16, dtype=np.uint8))
    if kind == "flip_bytes":
        for i in rng.integers(0, n, max(1, n // 500)):
            buf[i] = int(rng.integers(0, 256))
    elif kind == "truncate":
        buf = buf[: int(rng.integers(0, n))]
    elif kind == "zero_block":
        a = int(rng.integers(0, n))
        buf[a : a + int(rng.integers(1, 4096))] = b"\0" * len(buf[a : a + int(rng.integers(1, 4096))])
    elif kind == "duplicate_block":
        a = int(rng.integers(0, n))
        buf[a:a] = buf[a : a + int(rng.integers(1, 2048))]
    elif kind == "insert_bytes":
        a = int(rng.integers(0, n))
        buf[a:a] = bytes(rng.integers(0, 256, int(rng.integers(1, 256)), dtype=np.uint8))
    elif kind == "header_bytes":
        for i in rng.integers(0, min(n, 512), 8):
            buf[i] = int(rng.integers(0, 256))
    else:
        raise ValueError(f"unknown mutation {kind!r}; known: {MUTATIONS}")
    return bytes(buf)
