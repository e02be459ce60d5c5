"""Host-side tiler: split an M×K × K×N GEMM into the tiles a ``rows`` × ``cols`` systolic array
computes, in the order the host streams them, and reassemble the result.

The same tiler drives the simulated array (``rtl_tests/test_systolic.py``), the golden model
(:func:`hwgen.golden.matmul.matmul` pads K exactly as here) and, later, the board host driver.

Weight-stationary (``"ws"``)
    A weight tile is ``B[kt·R:(kt+1)·R, nt·C:(nt+1)·C]`` (R×C, loaded as R rows of C weights).
    For it the host streams all M rows of ``A[:, kt·R:(kt+1)·R]`` (one row of R activations
    per transfer), each with the matching row of partial sums; the array returns one row of C
    sums per transfer. Tile order: ``nt`` outer, ``kt`` inner.

    **Partial sums across K-tiles accumulate in the array**: the C sums returned for row m of
    tile (kt, nt) are sent back, bit for bit in the accumulator format, as the ``psum`` of row
    m of tile (kt+1, nt); the psum of kt = 0 is zero (``+0``). The host does no arithmetic, so
    the accumulation order is the hardware's (k ascending) and rounded PEs stay bit-exact. The
    row-m psum of tile kt+1 depends only on row m of tile kt, which left the array M transfers
    earlier, so for M ≥ the array latency the feedback causes no bubble.
    K is padded with zeros to a multiple of R, N to a multiple of C; M is not padded.

Output-stationary (``"os"``)
    An output tile is ``C[mt·R:(mt+1)·R, nt·C:(nt+1)·C]``. For it the host streams K transfers
    on each of the two input streams: column k of ``A[mt·R:(mt+1)·R, :]`` (R activations) and
    row k of ``B[:, nt·C:(nt+1)·C]`` (C weights), the last one flagged ``last``; the array
    returns the tile as R rows of C results (row 0 first). The whole K accumulates inside the
    PEs (no partial sums leave the array). Tile order: ``mt`` outer, ``nt`` inner.
    M is padded with zeros to a multiple of R, N to a multiple of C; K is not padded.

Padding is with zeros (integer 0, float ``+0``, ternary code ``00``); padded results are cut off.

numpy only.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import cast

import numpy as np
import numpy.typing as npt

__all__ = ["Tiling", "Tile"]

Tile = namedtuple("Tile", "index outer inner")
Tile.__doc__ = """One tile: ``index`` in stream order, and its tile coordinates: ``(nt, kt)`` for
weight-stationary, ``(mt, nt)`` for output-stationary."""


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


class Tiling:
    """The tiling of an ``M×K @ K×N`` GEMM on a ``rows`` × ``cols`` array.

    Parameters
    ----------
    M, K, N : int
        GEMM shape.
    rows, cols : int
        Array shape.
    dataflow : str
        ``"ws"`` or ``"os"``.

    Attributes
    ----------
    m_padded, k_padded, n_padded : int
        Padded GEMM shape.
    tiles : list of Tile
        Every tile, in stream order.
    """

    def __init__(self, M: int, K: int, N: int, rows: int, cols: int, dataflow: str) -> None:
        for what, v in (("M", M), ("K", K), ("N", N), ("Rows", rows), ("Columns", cols)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{what} must be a positive integer, not {v!r}")
        if dataflow not in ("ws", "os"):
            raise ValueError(f"Dataflow must be one of ws, os, not {dataflow!r}")
        self.M, self.K, self.N = int(M), int(K), int(N)
        self.rows, self.cols, self.dataflow = int(rows), int(cols), dataflow
        R, C = self.rows, self.cols
        self.n_padded = _ceil(N, C) * C
        if dataflow == "ws":
            self.m_padded, self.k_padded = self.M, _ceil(K, R) * R
            outer, inner = self.n_padded // C, self.k_padded // R
        else:
            self.m_padded, self.k_padded = _ceil(M, R) * R, self.K
            outer, inner = self.m_padded // R, self.n_padded // C
        self.tiles = [Tile(i * inner + j, i, j) for i in range(outer) for j in range(inner)]

    @property
    def k_tiles(self) -> int:
        return self.k_padded // self.rows if self.dataflow == "ws" else 1

    @property
    def useful_macs(self) -> int:
        """Multiply-accumulates of the unpadded GEMM (M·K·N)."""
        return self.M * self.K * self.N

    def pad(self, A: npt.ArrayLike, B: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """``A`` and ``B`` padded with zeros to the padded shapes (dtype kept)."""
        A, B = np.asarray(A), np.asarray(B)
        if A.shape != (self.M, self.K) or B.shape != (self.K, self.N):
            raise ValueError(f"Matrices must be {self.M}×{self.K} and {self.K}×{self.N}, "
                             f"not {A.shape} and {B.shape}")
        Ap = np.zeros((self.m_padded, self.k_padded), dtype=A.dtype)
        Bp = np.zeros((self.k_padded, self.n_padded), dtype=B.dtype)
        Ap[:self.M, :self.K] = A
        Bp[:self.K, :self.N] = B
        return Ap, Bp

    def weight_rows(self, Bp: np.ndarray, tile: Tile) -> np.ndarray:
        """Weight transfers of ``tile`` (rows of C weights) from the padded ``Bp``."""
        R, C = self.rows, self.cols
        if self.dataflow == "ws":
            nt, kt = tile.outer, tile.inner
            return Bp[kt * R:(kt + 1) * R, nt * C:(nt + 1) * C]
        return Bp[:, tile.inner * C:(tile.inner + 1) * C]

    def act_rows(self, Ap: np.ndarray, tile: Tile) -> np.ndarray:
        """Activation transfers of ``tile`` (rows of R activations) from the padded ``Ap``."""
        R = self.rows
        if self.dataflow == "ws":
            kt = tile.inner
            return Ap[:, kt * R:(kt + 1) * R]
        mt = tile.outer
        return Ap[mt * R:(mt + 1) * R, :].T

    def result_count(self, tile: Tile | None = None) -> int:
        """Result transfers (rows of C) the array returns for one tile."""
        return self.m_padded if self.dataflow == "ws" else self.rows

    @property
    def total_results(self) -> int:
        """Result transfers for the whole GEMM."""
        return len(self.tiles) * self.result_count()

    def psum_source(self, tile: Tile) -> Tile | None:
        """Weight-stationary: the tile whose results are this tile's partial sums (None for
        the first K-tile). Output-stationary: always None."""
        if self.dataflow == "os" or tile.inner == 0:
            return None
        return self.tiles[tile.index - 1]

    def is_final(self, tile: Tile) -> bool:
        """True when the tile's results are final outputs (last K-tile, or any OS tile)."""
        return self.dataflow == "os" or tile.inner == self.k_tiles - 1

    def place(self, out: np.ndarray, tile: Tile, results: npt.ArrayLike) -> None:
        """Write a final tile's ``results`` (rows of C) into the padded M×N output ``out``."""
        R, C = self.rows, self.cols
        if self.dataflow == "ws":
            out[:, tile.outer * C:(tile.outer + 1) * C] = results
        else:
            out[tile.outer * R:(tile.outer + 1) * R, tile.inner * C:(tile.inner + 1) * C] = results

    def crop(self, out: np.ndarray) -> np.ndarray:
        return out[:self.M, :self.N]

    # -- the stream view: what the host sends and receives, in order ------------------------
    def weight_transfers(self, Bp: np.ndarray) -> list[np.ndarray]:
        """Every ``weights`` transfer of the GEMM (rows of C), in stream order."""
        return [row for tile in self.tiles for row in self.weight_rows(Bp, tile)]

    def act_transfers(self, Ap: np.ndarray) -> list[tuple[np.ndarray, bool, int | None]]:
        """Every ``acts`` transfer, in stream order, as ``(row, last, psum_from)``: ``row`` of R
        activations, ``last`` closing the tile, and ``psum_from`` the index (in the result
        stream) of the result row whose raw sums are this row's ``psum``, or None (zeros)."""
        out = []
        n_res = self.result_count()
        for tile in self.tiles:
            rows = self.act_rows(Ap, tile)
            src = self.psum_source(tile)
            for r, row in enumerate(rows):
                psum_from = None if src is None else src.index * n_res + r
                out.append((row, r == len(rows) - 1, psum_from))
        return out

    def assemble(self, results: npt.ArrayLike) -> np.ndarray:
        """The cropped M×N result from every result row (rows of C values) in stream order."""
        results = np.asarray(results)
        n_res = self.result_count()
        if results.shape[0] != self.total_results:
            raise ValueError(f"Expected {self.total_results} result rows, not {results.shape[0]}")
        out = np.zeros((self.m_padded, self.n_padded), dtype=results.dtype)
        for tile in self.tiles:
            if self.is_final(tile):
                self.place(out, tile, results[tile.index * n_res:(tile.index + 1) * n_res])
        return self.crop(out)

    def execute(self, A: npt.ArrayLike, B: npt.ArrayLike,
                tile_fn: Callable[[np.ndarray, np.ndarray, np.ndarray | None],
                                  tuple[npt.ArrayLike, np.ndarray | None]],
                dtype: npt.DTypeLike | None = None) -> np.ndarray:
        """Run the whole GEMM on the host through ``tile_fn``, following the policy above.

        ``tile_fn(weight_rows, act_rows, psum_rows)`` returns ``(results, psums)``: the rows
        of C results and the rows of C partial sums to feed back (the same array for every PE
        but exact ones). ``psum_rows`` is None for OS tiles and zeros for the first K-tile.
        Returns the cropped M×N result.
        """
        Ap, Bp = self.pad(A, B)
        out = None
        prev = None
        for tile in self.tiles:
            psum = None
            if self.dataflow == "ws":
                psum = prev if self.psum_source(tile) is not None else \
                    np.zeros((self.m_padded, self.cols), dtype=dtype or np.int64)
            results, prev = tile_fn(self.weight_rows(Bp, tile), self.act_rows(Ap, tile), psum)
            results = np.asarray(results)
            if out is None:
                out = np.zeros((self.m_padded, self.n_padded), dtype=results.dtype)
            if self.is_final(tile):
                self.place(out, tile, results)
        return self.crop(cast(np.ndarray, out))    # set by the first of the (>= 1) tiles
