"""Systolic array of processing elements, weight-stationary or output-stationary, with streams.

Stream protocol
---------------
Three ``amaranth.lib.stream`` ports (valid/ready/payload; in Verilog ``<name>__payload``,
``<name>__valid``, ``<name>__ready``, the first field/element of a payload in the low bits).
``R`` = ``rows``, ``C`` = ``cols``; ``a``, ``w``, ``acc``, ``y`` are the PE's activation,
weight, running-sum and result shapes (:mod:`hwgen.arrays.pe`). The host tiler
(:class:`hwgen.golden.tiling.Tiling`) produces exactly these transfers.

Weight-stationary (``dataflow="ws"``), one weight tile W (R×C) at a time:

``weights`` — payload ``ArrayLayout(w, C)``: row k of W, k = 0..R-1 (R transfers per tile).
    Weights are double-buffered: the next tile loads while the current one computes.
``acts`` — payload ``StructLayout{a: ArrayLayout(a, R), psum: ArrayLayout(acc, C), last: 1}``:
    one row of R activations (``A[m, kt·R:(kt+1)·R]``) with the row of C partial sums it adds
    to, ``last`` set on the final row for the current weight tile (the next row uses the next
    tile). A row is accepted only once its weight tile has fully loaded.
``results`` — payload ``ArrayLayout(y, C)``: one row of C sums ``psum + a @ W`` per ``acts``
    transfer, in order. Exact PEs return ``ArrayLayout(StructLayout{y, acc}, C)``: the rounded
    result and the raw Kulisch sum to send back as the next K-tile's ``psum``.

Output-stationary (``dataflow="os"``), one R×C output tile at a time:

``acts`` — payload ``StructLayout{a: ArrayLayout(a, R), last: 1}``: column k of the A tile
    (R activations), ``last`` on k = K-1.
``weights`` — payload ``ArrayLayout(w, C)``: row k of the B tile (C weights). ``acts`` and
    ``weights`` transfer together (each stream's ``ready`` waits for the other's ``valid``).
``results`` — payload ``ArrayLayout(y, C)``: the R×C tile as R rows, row 0 first.
    Consecutive ``last`` transfers are at least R cycles apart: a ``last`` arriving sooner
    (a tile with K < R) waits, the array advancing meanwhile.

Every output is accumulated from ``+0`` (OS) or from ``psum`` (WS) in natural k order, so the
results match :func:`hwgen.golden.matmul.matmul` bit for bit.

Timing and stalls
-----------------
Skew (row i of activations delayed i cycles, column j of weights/partial sums j cycles) and
de-skew (column j of results delayed C-1-j cycles) are inside. The whole datapath advances on
one global enable, ``en``: it is high while the result FIFO (``fifo_depth`` rows) has room, so
back-pressure on ``results`` stalls the array and nothing is lost or duplicated. Missing input
(an idle source) does not stall: the array advances with bubbles (valid bits travel with the
data), so results in flight always drain.
"""

import re

from amaranth.hdl import Array, Cat, EnableInserter, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..golden.matmul import DATAFLOWS
from .pe import PEDatapath, ReadOut, acc_shape, check_array_pe, operand_shapes, out_shape

__all__ = ["SystolicArray", "MAX_DIM", "pack_weights", "pack_acts", "unpack_results"]

MAX_DIM = 64


class SystolicArray(wiring.Component):
    """A ``rows`` × ``cols`` systolic array of ``pe`` processing elements.

    Parameters
    ----------
    rows, cols : int
        Array shape, 1..64. Weight-stationary: R = the K-tile, C = the N-tile.
        Output-stationary: R×C output tile.
    pe : str or PESpec
        PE spec (``int8``, ``e4m3:fp16:rounded``, ``e4m3:exact``, ``bf16:fp32:fused``,
        ``ternary``...; see :mod:`hwgen.golden.matmul`). Bit-serial PEs are not supported.
    dataflow : str
        ``"ws"`` (weight-stationary) or ``"os"`` (output-stationary).
    fifo_depth : int
        Result FIFO depth in rows (at least 2).

    Members
    -------
    weights : In(stream.Signature(...))
    acts : In(stream.Signature(...))
    results : Out(stream.Signature(...))
        See the module docstring for the payload layouts.

    Raises
    ------
    TypeError, ValueError
        A bad parameter; the message names it and what is allowed.
    """

    def __init__(self, rows=4, cols=4, pe="int8", dataflow="ws", *, fifo_depth=4):
        for what, v in (("Rows", rows), ("Columns", cols)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{what} must be an integer, not {v!r}")
            if not 1 <= v <= MAX_DIM:
                raise ValueError(f"{what} must be between 1 and {MAX_DIM}, not {v!r}")
        self._pe = check_array_pe(pe)
        if dataflow not in DATAFLOWS:
            raise ValueError(f"Dataflow must be one of {', '.join(DATAFLOWS)}, not "
                             f"{dataflow!r}")
        if not isinstance(fifo_depth, int) or isinstance(fifo_depth, bool) or fifo_depth < 2:
            raise ValueError(f"FIFO depth must be an integer of at least 2, not {fifo_depth!r}")
        self._rows, self._cols, self._dataflow = rows, cols, dataflow
        self._fifo_depth = fifo_depth
        super().__init__({
            "weights": In(stream.Signature(self.weight_layout)),
            "acts": In(stream.Signature(self.act_layout)),
            "results": Out(stream.Signature(self.result_layout)),
        })

    # -- parameters and derived facts --------------------------------------------------------
    rows = property(lambda self: self._rows)
    cols = property(lambda self: self._cols)
    pe = property(lambda self: self._pe)
    dataflow = property(lambda self: self._dataflow)
    fifo_depth = property(lambda self: self._fifo_depth)

    @property
    def acc_bits(self):
        """Width of one PE's running sum (integer, float encoding or Kulisch register)."""
        return self._pe.acc_bits

    @property
    def weight_layout(self):
        return data.ArrayLayout(operand_shapes(self._pe)[1], self._cols)

    @property
    def act_layout(self):
        a = data.ArrayLayout(operand_shapes(self._pe)[0], self._rows)
        if self._dataflow == "ws":
            return data.StructLayout({"a": a, "psum": data.ArrayLayout(acc_shape(self._pe),
                                                                        self._cols), "last": 1})
        return data.StructLayout({"a": a, "last": 1})

    @property
    def result_elem(self):
        """Shape of one element of a ``results`` row."""
        if self._dataflow == "ws" and self._pe.accumulate == "exact":
            return data.StructLayout({"y": out_shape(self._pe), "acc": acc_shape(self._pe)})
        return out_shape(self._pe)

    @property
    def result_layout(self):
        return data.ArrayLayout(self.result_elem, self._cols)

    @property
    def latency(self):
        """Clock cycles, without stalls, from an input transfer to its result transfer:
        WS, from an ``acts`` row to its ``results`` row; OS, from a tile's ``last`` transfer
        to the tile's first ``results`` row."""
        # Skew/PE wavefront (rows + cols), the result register or drain select (1) and the
        # result FIFO (2: write, then its output register).
        return self._rows + self._cols + 3

    @property
    def cycles_per_tile(self):
        """Minimum cycles a tile occupies the array at steady state: a tile of n activation
        transfers takes ``max(n, cycles_per_tile)`` cycles when the sources keep up and the
        sink is always ready. WS: a weight bank is reloaded ``cols`` cycles after its last
        use and takes ``rows`` cycles, so ``rows + cols``; OS: ``rows`` (the result drain)."""
        if self._dataflow == "ws":
            return self._rows + self._cols
        return self._rows

    @property
    def module_name(self):
        tag = re.sub(r"[^a-z0-9]+", "_", self._pe.spec.lower()).strip("_")
        return f"systolic_{self._dataflow}_{self._rows}x{self._cols}_{tag}"

    def __repr__(self):
        return (f"SystolicArray({self._rows}, {self._cols}, {self._pe.spec!r}, "
                f"{self._dataflow!r})")

    # -- hardware ----------------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        core = Module()
        width = self.result_layout.size
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=width, depth=self._fifo_depth)
        en = Signal()
        # w_rdy comes from the FIFO's level register: no combinational path from
        # results.ready into the array's enable.
        m.d.comb += [
            en.eq(fifo.w_rdy),
            self.results.payload.eq(fifo.r_data),
            self.results.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(self.results.ready),
        ]
        if self._dataflow == "ws":
            out_valid, row = self._ws(m, core, en)
        else:
            out_valid, row = self._os(m, core, en)
        m.d.comb += [fifo.w_en.eq(en & out_valid), fifo.w_data.eq(Cat(*row))]
        m.submodules.core = EnableInserter(en)(core)
        return m

    @staticmethod
    def _delay(core, value, n, name):
        """``value`` delayed by ``n`` registers of the (enable-gated) core."""
        for k in range(n):
            reg = Signal(value.shape(), name=f"{name}_d{k}")
            core.d.sync += reg.eq(value)
            value = reg
        return value

    def _readout(self, core, acc, j):
        ro = ReadOut(self._pe)
        core.submodules[f"readout_{j}"] = ro
        core.d.comb += ro.acc.eq(acc)
        if self._dataflow == "ws" and self._pe.accumulate == "exact":
            elem = Signal(self.result_elem, name=f"res_{j}")
            core.d.comb += [elem.y.eq(ro.y), elem.acc.eq(acc)]
            return elem
        return ro.y

    def _ws(self, m, core, en):
        R, C, pe = self._rows, self._cols, self._pe
        acts, wts = self.acts, self.weights
        a_shp, w_shp = operand_shapes(pe)
        acc_shp = acc_shape(pe)

        # -- weight banks: loader fills bank `ld`, activations use bank `cur` --------------------
        cur = Signal()
        ld = Signal()
        ld_row = Signal(range(R))
        full = [Signal(name=f"full{b}") for b in range(2)]
        drain = [Signal(range(C + 1), name=f"drain{b}") for b in range(2)]
        act_ok = Mux(cur, full[1], full[0])
        w_ok = Mux(ld, ~full[1] & (drain[1] == 0), ~full[0] & (drain[0] == 0))
        m.d.comb += [acts.ready.eq(en & act_ok), wts.ready.eq(en & w_ok)]
        a_fire = acts.valid & acts.ready
        w_fire = wts.valid & wts.ready
        for b in range(2):
            with core.If(drain[b] != 0):
                core.d.sync += drain[b].eq(drain[b] - 1)
        with core.If(w_fire):
            with core.If(ld_row == R - 1):
                core.d.sync += [ld_row.eq(0), ld.eq(~ld)]
                for b in range(2):
                    with core.If(ld == b):
                        core.d.sync += full[b].eq(1)
            with core.Else():
                core.d.sync += ld_row.eq(ld_row + 1)
        with core.If(a_fire & acts.payload.last):
            core.d.sync += cur.eq(~cur)
            for b in range(2):
                with core.If(cur == b):
                    # Row k of this bank is last read by PE (k, C-1), C cycles from now; the
                    # loader writes row k no sooner than C + 1 + k cycles from now.
                    core.d.sync += [full[b].eq(0), drain[b].eq(C)]
        wb = [[[Signal(w_shp, name=f"w{b}_{i}_{j}") for j in range(C)] for i in range(R)]
              for b in range(2)]
        for b in range(2):
            for i in range(R):
                with core.If(w_fire & (ld == b) & (ld_row == i)):
                    core.d.sync += [wb[b][i][j].eq(wts.payload[j]) for j in range(C)]

        # -- activations flow right, partial sums flow down --------------------------------------
        ps = [[Signal(acc_shp, name=f"ps_{i}_{j}") for j in range(C)] for i in range(R)]
        av_last = None
        for i in range(R):
            a_src = self._delay(core, acts.payload.a[i], i, f"skew_a{i}")
            v_src = self._delay(core, a_fire, i, f"skew_v{i}")
            b_src = self._delay(core, cur, i, f"skew_b{i}")
            prev = (a_src, v_src, b_src)
            for j in range(C):
                a_r = Signal(a_shp, name=f"a_{i}_{j}")
                v_r = Signal(name=f"v_{i}_{j}")
                b_r = Signal(name=f"bank_{i}_{j}")
                core.d.sync += [a_r.eq(prev[0]), v_r.eq(prev[1]), b_r.eq(prev[2])]
                prev = (a_r, v_r, b_r)
                if i == 0:
                    acc_in = self._delay(core, acts.payload.psum[j], j + 1, f"skew_p{j}")
                else:
                    acc_in = ps[i - 1][j]
                dp = PEDatapath(pe)
                core.submodules[f"pe_{i}_{j}"] = dp
                core.d.comb += [dp.a.eq(a_r), dp.w.eq(Mux(b_r, wb[1][i][j], wb[0][i][j])),
                                dp.acc_in.eq(acc_in)]
                core.d.sync += ps[i][j].eq(dp.acc_out)
                if i == R - 1 and j == C - 1:
                    av_last = v_r
        out_valid = Signal()
        core.d.sync += out_valid.eq(av_last)
        row = []
        for j in range(C):
            acc = self._delay(core, ps[R - 1][j], C - 1 - j, f"deskew{j}")
            row.append(self._readout(core, acc, j))
        return out_valid, row

    def _os(self, m, core, en):
        R, C, pe = self._rows, self._cols, self._pe
        acts, wts = self.acts, self.weights
        a_shp, w_shp = operand_shapes(pe)
        acc_shp = acc_shape(pe)

        # -- join the two input streams; space `last`s at least R cycles apart -------------------
        if R > 1:
            hold = Signal(range(R))
            ok = ~acts.payload.last | (hold == 0)
        else:
            ok = 1
        m.d.comb += [acts.ready.eq(en & wts.valid & ok), wts.ready.eq(en & acts.valid & ok)]
        fire = acts.valid & acts.ready
        if R > 1:
            with core.If(fire & acts.payload.last):
                core.d.sync += hold.eq(R - 1)
            with core.Elif(hold != 0):
                core.d.sync += hold.eq(hold - 1)

        # -- activations flow right, weights flow down, sums stay ----------------------------
        b_top = [self._delay(core, wts.payload[j], j, f"skew_w{j}") for j in range(C)]
        b_prev = list(b_top)
        res = [[Signal(acc_shp, name=f"res_{i}_{j}") for j in range(C)] for i in range(R)]
        starts = [None] * C
        for i in range(R):
            prev = (self._delay(core, acts.payload.a[i], i, f"skew_a{i}"),
                    self._delay(core, fire, i, f"skew_v{i}"),
                    self._delay(core, fire & acts.payload.last, i, f"skew_l{i}"))
            for j in range(C):
                a_r = Signal(a_shp, name=f"a_{i}_{j}")
                v_r = Signal(name=f"v_{i}_{j}")
                l_r = Signal(name=f"last_{i}_{j}")
                w_r = Signal(w_shp, name=f"w_{i}_{j}")
                core.d.sync += [a_r.eq(prev[0]), v_r.eq(prev[1]), l_r.eq(prev[2]),
                                w_r.eq(b_prev[j])]
                prev = (a_r, v_r, l_r)
                b_prev[j] = w_r
                acc = Signal(acc_shp, name=f"acc_{i}_{j}")
                dp = PEDatapath(pe)
                core.submodules[f"pe_{i}_{j}"] = dp
                core.d.comb += [dp.a.eq(a_r), dp.w.eq(w_r), dp.acc_in.eq(acc)]
                with core.If(v_r):
                    with core.If(l_r):
                        core.d.sync += [res[i][j].eq(dp.acc_out), acc.eq(0)]
                    with core.Else():
                        core.d.sync += acc.eq(dp.acc_out)
                if i == R - 1:
                    starts[j] = v_r & l_r

        # -- drain: column j emits rows 0..R-1 after its bottom PE finishes a tile -----------
        row = []
        out_valid = None
        for j in range(C):
            active = Signal(name=f"drain_act{j}")
            idx = Signal(range(R), name=f"drain_row{j}")
            with core.If(starts[j]):
                core.d.sync += [active.eq(1), idx.eq(0)]
            with core.Elif(active):
                with core.If(idx == R - 1):
                    core.d.sync += active.eq(0)
                with core.Else():
                    core.d.sync += idx.eq(idx + 1)
            col = Signal(acc_shp, name=f"col_{j}")
            core.d.comb += col.eq(Array(Value.cast(res[i][j]) for i in range(R))[idx])
            acc = self._delay(core, col, C - 1 - j, f"deskew{j}")
            row.append(self._readout(core, acc, j))
            if j == C - 1:
                out_valid = active
        return out_valid, row



# -- host-side payload packing (plain integers; used by testbenches and host drivers) -------------

def _width(shape):
    return shape.size if isinstance(shape, data.Layout) else shape.width


def _signed(shape):
    return not isinstance(shape, data.Layout) and shape.signed


def _pack(values, shape):
    w = _width(shape)
    mask = (1 << w) - 1
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * w)
    return word


def _unpack(word, shape, count):
    w = _width(shape)
    mask = (1 << w) - 1
    out = []
    for i in range(count):
        v = (int(word) >> (i * w)) & mask
        if _signed(shape) and v >> (w - 1):
            v -= 1 << w
        out.append(v)
    return out


def pack_weights(array, row):
    """The ``weights`` payload (an int) for one row of ``cols`` weights (ints or encodings)."""
    if len(row) != array.cols:
        raise ValueError(f"Weight row must have {array.cols} elements, not {len(row)}")
    return _pack(row, operand_shapes(array.pe)[1])


def pack_acts(array, a, *, last=False, psum=None):
    """The ``acts`` payload (an int): ``rows`` activations, the ``last`` flag and (WS) the row
    of ``cols`` partial sums as raw bit patterns (None: zeros, i.e. ``+0``)."""
    if len(a) != array.rows:
        raise ValueError(f"Activation row must have {array.rows} elements, not {len(a)}")
    layout = array.act_layout
    word = _pack(a, operand_shapes(array.pe)[0]) << layout["a"].offset
    word |= int(bool(last)) << layout["last"].offset
    if array.dataflow == "ws" and psum is not None:
        word |= _pack(psum, acc_shape(array.pe)) << layout["psum"].offset
    return word


def unpack_results(array, word):
    """Split a ``results`` payload into ``(values, psums)``: ``cols`` results (signed ints for
    integer PEs, encodings for float PEs) and the ``cols`` raw running sums to send back as
    the next K-tile's ``psum`` (weight-stationary; equal to the values except for exact PEs)."""
    elem = array.result_elem
    if isinstance(elem, data.StructLayout):
        raw = _unpack(word, elem, array.cols)
        y_w = elem["y"].width
        acc_off = elem["acc"].offset
        return [r & ((1 << y_w) - 1) for r in raw], [r >> acc_off for r in raw]
    vals = _unpack(word, elem, array.cols)
    return vals, list(vals)
