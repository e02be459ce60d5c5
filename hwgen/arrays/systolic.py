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
    Weights are double-buffered: the next tile loads (into each PE's shadow register) while
    the current one computes, and the next tile's first row copies it into the PEs as it
    passes.
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

Dual-precision PEs (``dpH``) add a last ``acts`` field, ``low`` (1 bit): the mode of that
transfer (:class:`~hwgen.arrays.pe.PEDatapath`). Pipelined float PEs (``mul_latency``,
``add_latency``): see :class:`SystolicArray`.

Bit-serial PEs (``bsWxA``)
--------------------------
The ``acts`` payload gains a last field, ``bits`` (``W.bit_length()`` bits): the weight
bit-planes to use for this transfer, MSB first (0 reads as 1, above W as W); the host sends a
tile's ``bits`` on each of its transfers. Weight-stationary: each PE holds its
stationary W-bit weight (double-buffered as for every PE) and reads one bit-plane of it per
clock: its activation stays ``bits`` cycles while the running sum, started from the partial sum
above, adds ``a · bit · 2**(W-1-x)`` for planes x = 0..bits-1 (the sign plane negated; no
multiplier, :class:`~hwgen.arrays.pe.PEDatapath`). The wavefront thus moves one PE per *step*
of ``bits`` cycles instead of one per cycle; every PE on an anti-diagonal works on the same
row, so one plane mask per diagonal travels with it, and a step lasts as long as the longest
mask in flight (rows of fewer planes skip the extra planes; an empty array steps every cycle).
The result is the GEMM with each weight truncated to its top ``bits`` bits
(:func:`hwgen.golden.bsmac.truncate`), exact for ``bits = W``
(:func:`hwgen.golden.matmul.tile_bits`). Cycles per row:
:meth:`SystolicArray.cycles_per_row`; latency and tile cost: :meth:`~SystolicArray.latency_at`,
:meth:`~SystolicArray.cycles_per_tile_at`.

Output-stationary: one k-step (a column of A meeting a row of B) lasts ``bits`` cycles in each
PE, one weight plane per cycle added to the PE's own running sum; activations, weights, their
flags and the per-diagonal plane masks move one PE per step, as above. A sum is complete at
the end of its tile's last k-step; the drain emits one result row per step (so the de-skew
aligns columns that finish at step boundaries), and ``last`` transfers are at least R steps
apart. The result is each output tile with its weights truncated to the tile's ``bits``.

Timing and stalls
-----------------
Skew (row i of activations delayed i cycles, column j of weights/partial sums j cycles) and
de-skew (column j of results delayed C-1-j cycles) are inside. The whole datapath advances on
one global enable, ``en``: it is high while the result FIFO (``fifo_depth`` rows) has room, so
back-pressure on ``results`` stalls the array and nothing is lost or duplicated. ``en`` is a
register (it fans out to every register of the array, so no logic sits before that net): it
is set for the next cycle when the FIFO will hold fewer than ``fifo_depth`` rows after this
cycle's transfers, and the FIFO has one row more than that, so a row written while ``en`` is
high always finds room. With ``enable_copies`` the register is copied: each PE, each row's
and column's skew and each column's read-out has its own copy (``en_pe_<i>_<j>``,
``en_row_<i>``, ``en_psum_<j>``, ``en_wskew_<j>``, ``en_out_<j>``), so no flip-flop drives
the clock enable of the whole array; a copy is written only when it differs from the new
value, so its write enable reads the copy itself and synthesis cannot merge the copies back
into one. Bit-serial arrays keep one enable, and so do arrays elaborated for an iCE40, whose
nextpnr puts a clock enable of large fan-out on a global buffer. Off by default: on the ECP5
85F the copies routed the 8×8 int8 and exact arrays slower or not at all (docs/arrays.md).
Missing input (an idle source) does not stall: the array
advances with bubbles (valid bits travel with the data), so results in flight always drain.

Credit flow control (``flow="credit"``): the array never stalls; there is no enable at all
(the DSP blocks' clock enables are tied high). Instead an input that will produce results
is admitted only while they have a place in the result FIFO: a counter of the rows admitted
and not yet transferred out of ``results`` (one per WS ``acts`` row; R per OS ``last``
transfer, taken at once) must leave room for them within ``fifo_depth``, so every row
reaching the FIFO finds room whatever ``results.ready`` does. Inputs that produce no results
(OS transfers before ``last``, weights) are never held back. The default ``fifo_depth`` is
then :attr:`SystolicArray.full_rate_depth`, the least that keeps the no-stall rate (a row
per cycle with ``results`` always ready): the latency's worth of rows, so a deeper FIFO (in
the ECP5's distributed RAM or block RAM) buys the removal of the array-wide enable net.
Results, order and timing with an always-ready sink are those of ``flow="stall"``.
"""

import functools
import operator
from collections.abc import Iterable, Sequence
from typing import SupportsInt, cast

from amaranth.hdl import Array, Cat, Const, EnableInserter, Module, Mux, Shape, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..arrayspec import FLOWS, MAX_DIM, ArraySpec
from ..pespec import PESpec
from ..units.intcommon import delay
from .mxpe import mx_block_ends, mx_column
from .pe import (PEDatapath, ReadOut, acc_shape, align_operand, for_ice40, operand_shapes,
                 out_shape, prealigned)

__all__ = ["SystolicArray", "FLOWS", "full_rate_depth", "MAX_DIM", "weight_layout",
           "act_layout", "result_elem", "result_layout", "pack_weights", "pack_acts",
           "unpack_results"]

def full_rate_depth(spec: ArraySpec) -> int:
    """:attr:`SystolicArray.full_rate_depth` of the array ``spec`` (an
    :class:`~hwgen.arrayspec.ArraySpec`)."""
    return spec.latency + (spec.rows - 1 if spec.dataflow == "os" else 0)


class SystolicArray(wiring.Component):
    """A ``rows`` × ``cols`` systolic array of ``pe`` processing elements.

    Parameters
    ----------
    rows, cols : int
        Array shape, 1..64. Weight-stationary: R = the K-tile, C = the N-tile.
        Output-stationary: R×C output tile.
    pe : str or PESpec
        PE spec (``int8``, ``e4m3:fp16:rounded``, ``e4m3:exact``, ``bf16:fp32:fused``,
        ``bs8x8``, ``ternary``...; see :mod:`hwgen.golden.matmul`), in either dataflow.
    dataflow : str
        ``"ws"`` (weight-stationary) or ``"os"`` (output-stationary).
    fifo_depth : int or None
        Result FIFO depth in rows (at least 2): the rows of results the array keeps before
        back-pressure stalls it (its FIFO stores one more, for the registered enable).
        Default (None): 4, or :attr:`full_rate_depth` with ``flow="credit"``.
    mul_latency, add_latency : int
        PE pipeline (weight-stationary float PEs only; default 0, unpipelined): register
        stages inside the multiplier (``F:ACC:rounded``: 0..3) and inside the adder
        (rounded: 0..3) or the FMA (``F:ACC:fused``: 0..4, ``mul_latency`` 0), at the float
        operators' cut points. Partial sums flow down the columns, so row i of activations is
        skewed by ``i·(1 + add_latency)`` cycles and the top partial sums by
        ``mul_latency`` more: each sum meets its product; the results are unchanged
        (:func:`hwgen.golden.matmul.matmul`), only :attr:`latency` and
        :attr:`cycles_per_tile` grow. ``F:exact`` PEs: ``mul_latency`` 0..2 registers in the
        product path (1: after the product, 2: also after the operands' alignment) and
        ``add_latency`` 0..3 in each column's read-out (the rounding of the Kulisch sum,
        :func:`~hwgen.arrays.pe.readout_cuts`); the PE's integer add is never cut, so the skew
        stays ``i`` cycles. They pipeline the same way in output-stationary arrays (each
        PE's valid and ``last`` follow its product through ``mul_latency`` registers, the
        result rows the read-out's stages; the sum's loop is the integer add alone).
    target_mhz, device : float, str
        Instead of ``mul_latency``/``add_latency``: the PE pipeline the delay model of
        ``device`` (:data:`hwgen.timing.DEVICE_NAMES`) says reaches ``target_mhz``
        (:func:`~hwgen.arrays.pipeline.plan_pe_pipeline`; :attr:`plan`).
    enable_copies : bool
        Give each PE, skew and read-out its own copy of the enable register (see "Timing and
        stalls" in the module docstring; default False: one enable register). The module
        name ends in ``_encopies``.
    flow : str
        ``"stall"`` (default): back-pressure on ``results`` stalls the whole array through
        one enable; ``"credit"``: the array never stalls and admits inputs only while their
        results have room in the FIFO (module docstring, "Timing and stalls"; the module
        name ends in ``_credit``; ``fifo_depth`` defaults to :attr:`full_rate_depth` and
        must be at least ``rows`` for output-stationary arrays).

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

    def __init__(self, rows: int = 4, cols: int = 4, pe: PESpec | str = "int8",
                 dataflow: str = "ws", *, fifo_depth: int | None = None, mul_latency: int = 0,
                 add_latency: int = 0, target_mhz: float | None = None,
                 device: "str | None" = None, enable_copies: bool = False,
                 flow: str = "stall") -> None:
        if not isinstance(enable_copies, bool):
            raise TypeError(f"enable_copies must be a bool, not {enable_copies!r}")
        if flow not in FLOWS:
            raise ValueError(f"flow must be one of {', '.join(FLOWS)}, not {flow!r}")
        if enable_copies and flow == "credit":
            raise ValueError("enable_copies copies the stall enable; flow='credit' has none")
        self._enable_copies = enable_copies
        self._flow = flow
        #: The :class:`~hwgen.arrays.pipeline.PEPipeline` chosen for ``target_mhz`` (or None).
        self.plan = None
        self.target_mhz = target_mhz
        self.device = device
        if target_mhz is not None or device is not None:
            if target_mhz is None or device is None:
                raise ValueError("A target frequency needs both target_mhz and device")
            if mul_latency or add_latency:
                raise ValueError("Give target_mhz (the PE pipeline is planned for it) or "
                                 "mul_latency/add_latency, not both")
            from .pipeline import plan_pe_pipeline
            self.plan = plan_pe_pipeline(pe, target_mhz, device, dataflow)
            mul_latency, add_latency = self.plan.mul_latency, self.plan.add_latency
        self._spec = ArraySpec(rows, cols, pe, dataflow, mul_latency, add_latency)
        if fifo_depth is None:
            fifo_depth = self.full_rate_depth if flow == "credit" else 4
        least = self._spec.rows if flow == "credit" and dataflow == "os" else 2
        if not isinstance(fifo_depth, int) or isinstance(fifo_depth, bool) or \
                fifo_depth < least:
            raise ValueError(f"FIFO depth must be an integer of at least {least}, "
                             f"not {fifo_depth!r}")
        self._fifo_depth = fifo_depth
        super().__init__({
            "weights": In(stream.Signature(self.weight_layout)),
            "acts": In(stream.Signature(self.act_layout)),
            "results": Out(stream.Signature(self.result_layout)),
        })

    # -- parameters and derived facts (from the plain description, :attr:`spec`) -------------
    spec = property(lambda self: self._spec,
                    doc="The :class:`~hwgen.arrayspec.ArraySpec` this array is built from.")
    rows = property(lambda self: self._spec.rows)
    cols = property(lambda self: self._spec.cols)
    pe = property(lambda self: self._spec.pe)
    dataflow = property(lambda self: self._spec.dataflow)
    fifo_depth = property(lambda self: self._fifo_depth)
    flow = property(lambda self: self._flow,
                    doc="Flow control, ``\"stall\"`` or ``\"credit\"`` (:data:`FLOWS`).")

    @property
    def full_rate_depth(self) -> int:
        """The fewest result rows a ``flow="credit"`` array's FIFO needs to take an input
        every cycle while ``results`` is always ready (the default ``fifo_depth`` of such an
        array): a row's credit is taken as its input transfers and is free again
        :attr:`latency` cycles later, as its result transfers, so WS needs ``latency``; an OS
        tile's ``last`` takes R credits at once, ``latency + rows - 1``. (Measured, and one
        row less measured to stall the input: tests/test_systolic.py.)"""
        return full_rate_depth(self._spec)
    mul_latency = property(lambda self: self._spec.mul_latency)
    add_latency = property(lambda self: self._spec.add_latency)
    acc_bits = property(lambda self: self._spec.acc_bits, doc=ArraySpec.acc_bits.__doc__)
    serial = property(lambda self: self._spec.serial, doc=ArraySpec.serial.__doc__)
    weight_bits = property(lambda self: self._spec.weight_bits,
                           doc=ArraySpec.weight_bits.__doc__)
    bits_width = property(lambda self: self._spec.bits_width, doc=ArraySpec.bits_width.__doc__)
    latency = property(lambda self: self._spec.latency, doc=ArraySpec.latency.__doc__)
    cycles_per_tile = property(lambda self: self._spec.cycles_per_tile,
                               doc=ArraySpec.cycles_per_tile.__doc__)
    module_name = property(lambda self: self._spec.module_name +
                           ("_credit" if self._flow == "credit" else "") +
                           ("_encopies" if self._enable_copies else ""))

    def cycles_per_row(self, bits: SupportsInt | None = None) -> int:
        return self._spec.cycles_per_row(bits)

    def latency_at(self, bits: SupportsInt | None = None) -> int:
        return self._spec.latency_at(bits)

    def cycles_per_tile_at(self, bits: SupportsInt | None = None) -> int:
        return self._spec.cycles_per_tile_at(bits)

    cycles_per_row.__doc__ = ArraySpec.cycles_per_row.__doc__
    latency_at.__doc__ = ArraySpec.latency_at.__doc__
    cycles_per_tile_at.__doc__ = ArraySpec.cycles_per_tile_at.__doc__

    weight_layout = property(lambda self: weight_layout(self._spec))
    act_layout = property(lambda self: act_layout(self._spec))
    result_elem = property(lambda self: result_elem(self._spec),
                           doc="Shape of one element of a ``results`` row.")
    result_layout = property(lambda self: result_layout(self._spec))

    def __repr__(self) -> str:
        spec = self.__dict__.get("_spec")
        if spec is None:            # a constructor that raised
            return "SystolicArray(...)"
        return f"SystolicArray({spec.rows}, {spec.cols}, {spec.pe.spec!r}, {spec.dataflow!r})"

    # -- hardware ----------------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        core = Module()
        depth = self._fifo_depth
        # Both flows keep at most `depth` rows in a FIFO of depth + 1: the buffered FIFO's
        # memory (depth rows) takes a write only while it is not full, and a row may be on
        # its way from the memory to the output register.
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=self.result_layout.size,
                                                    depth=depth + 1)
        if self._flow == "credit":
            return self._elaborate_credit(m, core, fifo, depth)
        # The enable is a register: high in a cycle only if the FIFO then holds fewer than
        # `depth` rows, so its write that cycle always finds room (level <= depth - 1 means
        # the buffered FIFO's inner store, depth rows, is not full).
        en = Signal(init=1)
        level_next = fifo.level + fifo.w_en - (fifo.r_rdy & fifo.r_en)
        # with enable_copies, the modules of the PEs, skews and read-outs (else None: all in
        # the core)
        groups: list[tuple[str, Module]] | None = None
        if self._enable_copies and not for_ice40(platform):
            groups = []
            room = Signal()
            m.d.comb += room.eq(level_next < depth)
            m.d.sync += en.eq(room)
        else:
            m.d.sync += en.eq(level_next < depth)
        self._results_from(m, fifo)
        if self.dataflow == "ws":
            out_valid, row = self._ws(m, core, en, groups, en, en)
        else:
            out_valid, row = self._os(m, core, en, groups, en)
        m.d.comb += [fifo.w_en.eq(en & out_valid), fifo.w_data.eq(Cat(*row))]
        m.submodules.core = EnableInserter(en)(core)
        # A copy is written only when it differs from `room`: the same value, but a write
        # enable that reads the copy itself, so synthesis cannot merge the copies into one.
        for name, group in groups or ():
            copy = Signal(init=1, name=f"en_{name}")
            with m.If(copy != room):
                m.d.sync += copy.eq(room)
            m.submodules[name] = EnableInserter(copy)(group)
        return m

    def _elaborate_credit(self, m, core, fifo, depth):
        """``flow="credit"``: the array never stalls (no enable); an input that will produce
        results is admitted only while its result rows find a place in the FIFO. ``used``
        counts the rows admitted and not yet transferred out of ``results``: at most
        ``depth``, so a row arriving at the FIFO always finds room."""
        per = self.rows if self.dataflow == "os" else 1     # result rows of one admission
        used = Signal(range(depth + 1))
        room = Signal()                  # `per` more rows fit
        m.d.comb += room.eq(used <= depth - per)
        acts = self.acts
        admitted = acts.valid & acts.ready
        if self.dataflow == "os":
            admitted = admitted & acts.payload.last
        taken = self.results.valid & self.results.ready
        m.d.sync += used.eq(used + Mux(admitted, per, 0) - taken)
        self._results_from(m, fifo)
        on = Const(1, 1)
        if self.dataflow == "ws":
            out_valid, row = self._ws(m, core, on, None, room, on)
        else:
            out_valid, row = self._os(m, core, on, None, ~acts.payload.last | room)
        m.d.comb += [fifo.w_en.eq(out_valid), fifo.w_data.eq(Cat(*row))]
        m.submodules.core = core
        return m

    def _results_from(self, m, fifo):
        """``results`` is the FIFO's read side."""
        m.d.comb += [
            self.results.payload.eq(fifo.r_data),
            self.results.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(self.results.ready),
        ]

    @staticmethod
    def _group(groups, name, shared, registers=True):
        """The modules for one PE's, skew's or read-out's registers, as ``(moving, other)``:
        with enable copies (``groups`` not None) and ``registers`` to put there, one module
        of their own with its own enable (added to ``groups``); else ``shared``, the array's
        modules (bit-serial: the step-gated ``mv`` or ``dk`` and the core)."""
        if groups is None or not registers:
            return shared
        group = Module()
        groups.append((name, group))
        return group, group

    _delay = staticmethod(delay)      # registers of the (enable-gated) core

    def _entering(self, core, aligned):
        """The activations and weights as they enter the array: each row's activation and
        each column's weight, aligned once there for :func:`~.pe.prealigned` PEs (so that
        they travel, and weights are stored, aligned), else the payloads as they are."""
        a, w = self.acts.payload.a, self.weights.payload
        if not aligned:
            return [a[i] for i in range(self.rows)], [w[j] for j in range(self.cols)]
        return ([align_operand(core, self.pe.a_fmt, a[i], f"a_in{i}") for i in range(self.rows)],
                [align_operand(core, self.pe.w_fmt, w[j], f"w_in{j}")
                 for j in range(self.cols)])

    def _readout(self, core, acc, j):
        lat = self._spec.readout_latency
        ro = ReadOut(self.pe, latency=lat)
        core.submodules[f"readout_{j}"] = ro
        core.d.comb += ro.acc.eq(acc)
        if self.dataflow == "ws" and self.pe.fixed_point:
            elem = Signal(self.result_elem, name=f"res_{j}")
            core.d.comb += [elem.y.eq(ro.y),
                            elem.acc.eq(self._delay(core, acc, lat, f"ro_acc{j}"))]
            return elem
        return ro.y

    def _modes(self, mv):
        """Dual-precision PEs: the ``low`` flag of the row on each anti-diagonal (PE (i, j)
        works on the row that entered i + j + 1 steps ago); None for other PEs."""
        if self.pe.kind != "dualprec":
            return None
        flags = [self.acts.payload.low]
        for d in range(self.rows + self.cols - 1):
            flags.append(Signal(name=f"low_d{d}"))
            mv.d.sync += flags[-1].eq(flags[-2])
        return flags[1:]

    def _planes(self, core, fire):
        """Bit-serial PEs: the global plane counter and the per-diagonal plane masks.

        Every PE on anti-diagonal d = i + j works on the same activation row, so one
        thermometer mask per diagonal (bit x: plane x counts for that row) travels with the
        wavefront. A step lasts as many cycles as the longest mask in flight (1 when the array
        is empty). Returns ``(plane, first, step, active)``: ``active[d]`` is diagonal d's
        mask bit for the current plane.
        """
        R, C, wb = self.rows, self.cols, self.pe.w_fmt.bits
        plane = Signal(range(wb), name="plane")
        masks = [Signal(wb, name=f"planes_d{d}") for d in range(R + C - 1)]
        any_mask = Signal(wb, name="planes_any")
        core.d.comb += any_mask.eq(functools.reduce(operator.or_, masks))
        step = Signal(name="step_end")                   # the last plane of this step
        core.d.comb += step.eq(~Cat(any_mask, Const(0, 1)).bit_select(plane + 1, 1))
        with core.If(step):
            core.d.sync += plane.eq(0)
        with core.Else():
            core.d.sync += plane.eq(plane + 1)
        nb = self.acts.payload.bits
        eff = Mux(nb == 0, 1, Mux(nb > wb, wb, nb))      # as BitSerialMac and clamp_bits
        with core.If(step):
            core.d.sync += masks[0].eq(Mux(fire, Cat(*(eff > x for x in range(wb))), 0))
            core.d.sync += [masks[d].eq(masks[d - 1]) for d in range(1, len(masks))]
        active = [Signal(name=f"active_d{d}") for d in range(len(masks))]
        core.d.comb += [active[d].eq(masks[d].bit_select(plane, 1)) for d in range(len(masks))]
        return plane, plane == 0, step, active

    def _ws(self, m, core, en, groups, go_a, go_w):
        """The weight-stationary datapath; ``en`` the stall enable (the DSP blocks' clock
        enable), ``go_a``/``go_w`` what else ``acts``/``weights`` wait for."""
        R, C, pe = self.rows, self.cols, self.pe
        acts, wts = self.acts, self.weights
        aligned = prealigned(pe)
        a_shp, w_shp = operand_shapes(pe, aligned=aligned)
        a_in, w_in = self._entering(core, aligned)
        acc_shp = acc_shape(pe)
        serial = pe.kind == "bitserial"
        if serial:
            a_fire = Signal()
            # `mv` registers move the wavefront one PE per step (the last plane's cycle);
            # `dk` (de-skew) registers take a finished sum in the first cycle of a step.
            mv, dk = Module(), Module()
            plane, first, step, active = self._planes(core, a_fire)
            drain_steps = R + C - 1     # bank b's last reader, PE (R-1, C-1), is this far off
        else:
            mv = dk = core
            step = first = 1
            drain_steps = self._spec.ws_drain
        if serial:
            groups = None                # the PEs step with the planes: one enable
        shared = (mv, core)
        # F:exact: add_latency pipelines the read-out, not the PE (ArraySpec.pe_add_latency)
        l_mul, l_add = self.mul_latency, self._spec.pe_add_latency
        l_out = self._spec.readout_latency

        # -- weights: the loader fills every PE's `shadow` register; the first row of a tile
        # copies `shadow` into the PE's `wcur` register (the weight it multiplies by) as it
        # passes, so no PE selects between two banks. The shadow reloads once the last PE
        # has copied it. --------------------------------------------------------------------
        full = Signal()                  # the shadow registers hold a tile not yet taken
        in_tile = Signal()               # the next activation row continues the current tile
        ld_row = Signal(range(R), name="ld_row") if R > 1 else None   # R = 1: every row is last
        drain = Signal(range(drain_steps + 1))
        act_ok = in_tile | full
        w_ok = ~full & (drain == 0)
        if serial:
            m.d.comb += [acts.ready.eq(go_a & act_ok & step),
                         a_fire.eq(acts.valid & acts.ready)]
        else:
            m.d.comb += acts.ready.eq(go_a & act_ok)
            a_fire = acts.valid & acts.ready
        m.d.comb += wts.ready.eq(go_w & w_ok)
        w_fire = wts.valid & wts.ready
        take = Signal()                  # this row is a tile's first: its wavefront copies
        m.d.comb += take.eq(a_fire & ~in_tile)
        with core.If((drain != 0) & step if serial else drain != 0):
            core.d.sync += drain.eq(drain - 1)
        with core.If(w_fire):
            if ld_row is None:
                core.d.sync += full.eq(1)
            else:
                with core.If(ld_row == R - 1):
                    core.d.sync += [ld_row.eq(0), full.eq(1)]
                with core.Else():
                    core.d.sync += ld_row.eq(ld_row + 1)
        with core.If(a_fire):
            core.d.sync += in_tile.eq(~acts.payload.last)
        with core.If(take):
            # Row k of the shadow is copied by PE (k, C-1) C-1 + k·(1+add_latency) cycles
            # from now; the loader writes row k no sooner than drain_steps + k cycles from now
            # (bit-serial: steps, the loader writes within one). Since a tile's first row
            # follows the previous tile's last, the shadow reloads when two banks switched
            # by each tile's last row would have.
            core.d.sync += [full.eq(0), drain.eq(drain_steps - 1)]
        shadow = [[Signal(w_shp, name=f"wshadow_{i}_{j}") for j in range(C)] for i in range(R)]
        if R > 1:
            # The write lands one cycle after the row is taken (its data, a one-hot row
            # select, registered), so the loader's handshake does not drive the shadow's
            # write enables. That is soon enough: row k is read no sooner than
            # k·(1 + add_latency) + 1 cycles after the tile's first row, itself no sooner
            # than the cycle after the last weight row (R = 1 would read in that cycle).
            wr_sel = Signal(R, name="wshadow_sel")
            wr_data = [Signal(w_shp, name=f"wshadow_in{j}") for j in range(C)]
            core.d.sync += wr_sel.eq(Mux(w_fire, 1 << ld_row, 0))
            with core.If(w_fire):
                core.d.sync += [wr_data[j].eq(w_in[j]) for j in range(C)]
        else:
            wr_sel, wr_data = w_fire, w_in       # one row: its select is the handshake
        for i in range(R):
            with core.If(wr_sel[i]):
                core.d.sync += [shadow[i][j].eq(wr_data[j]) for j in range(C)]

        # -- activations flow right, partial sums flow down --------------------------------------
        modes = self._modes(mv)
        ps = [[Signal(acc_shp, name=f"ps_{i}_{j}") for j in range(C)] for i in range(R)]
        av_last = None
        for i in range(R):
            # a pipelined PE passes its sum down 1 + l_add cycles after its activation arrives
            sk = self._group(groups, f"row_{i}", shared, i > 0)[0]
            a_src = self._delay(sk, a_in[i], i * (1 + l_add), f"skew_a{i}")
            v_src = self._delay(sk, a_fire, i * (1 + l_add), f"skew_v{i}")
            t_src = self._delay(sk, take, i * (1 + l_add), f"skew_t{i}")
            prev = (a_src, v_src, t_src)
            for j in range(C):
                a_r = Signal(a_shp, name=f"a_{i}_{j}")
                v_r = Signal(name=f"v_{i}_{j}")
                t_r = Signal(name=f"take_{i}_{j}")
                w_r = Signal(w_shp, name=f"wcur_{i}_{j}")
                gm, gc = self._group(groups, f"pe_{i}_{j}", shared)
                gm.d.sync += [a_r.eq(prev[0]), v_r.eq(prev[1]), t_r.eq(prev[2])]
                with gm.If(prev[2]):     # loaded as the tile's first row arrives here
                    gm.d.sync += w_r.eq(shadow[i][j])
                prev = (a_r, v_r, t_r)
                if i == 0:
                    sk, _ = self._group(groups, f"psum_{j}", shared)
                    acc_in = self._delay(sk, acts.payload.psum[j], j + 1 + l_mul, f"skew_p{j}")
                else:
                    acc_in = ps[i - 1][j]
                dp = PEDatapath(pe, mul_latency=l_mul, add_latency=l_add, aligned=aligned,
                                 dsp_enable=en)
                gc.submodules[f"pe_{i}_{j}" if gc is core else "dp"] = dp
                gc.d.comb += [dp.a.eq(a_r), dp.w.eq(w_r)]
                if serial:
                    # ps is both the running sum and the result: the PE below (and the
                    # de-skew) read it in the first cycle of the next step, as it restarts.
                    gc.d.comb += [dp.acc_in.eq(Mux(first, acc_in, ps[i][j])),
                                  dp.plane.eq(plane), dp.active.eq(active[i + j])]
                else:
                    gc.d.comb += dp.acc_in.eq(acc_in)
                if modes is not None:
                    gc.d.comb += dp.low.eq(modes[i + j])
                gc.d.sync += ps[i][j].eq(dp.acc_out)
                if i == R - 1 and j == C - 1:
                    av_last = v_r
        out_valid = Signal()
        mv.d.sync += out_valid.eq(self._delay(mv, av_last, l_mul + l_add + l_out, "pipe_v"))
        row = []
        for j in range(C):
            gm, gc = self._group(groups, f"out_{j}", (dk, core), C - 1 - j + l_out > 0)
            acc = self._delay(gm, ps[R - 1][j], C - 1 - j, f"deskew{j}")
            row.append(self._readout(gc, acc, j))
        if serial:
            core.submodules.move = EnableInserter(step)(mv)
            core.submodules.deskew = EnableInserter(first)(dk)
            out_first = Signal()
            core.d.comb += out_first.eq(out_valid & first)
            return out_first, row
        return out_valid, row

    def _os(self, m, core, en, groups, go):
        """The output-stationary datapath; ``en`` the stall enable (the DSP blocks' clock
        enable), ``go`` what else the two input streams wait for."""
        R, C, pe = self.rows, self.cols, self.pe
        acts, wts = self.acts, self.weights
        aligned = prealigned(pe)
        a_shp, w_shp = operand_shapes(pe, aligned=aligned)
        a_in, w_in = self._entering(core, aligned)
        acc_shp = acc_shape(pe)
        serial = pe.kind == "bitserial"
        if serial:
            # Bit-serial: everything but the running sums moves one PE per step (the last
            # plane's cycle, `mv`); a PE adds one weight plane per cycle of its step.
            fire = Signal()
            mv = Module()
            plane, first, step, active = self._planes(core, fire)
        else:
            mv = core
        if serial:
            groups = None                # the PEs step with the planes: one enable
        shared = (mv, core)

        # -- join the two input streams; space `last`s at least R steps apart ----------------
        if R > 1:
            hold = Signal(range(R))
            ok = ~acts.payload.last | (hold == 0)
        else:
            ok = 1
        if serial:
            ok = ok & step
        m.d.comb += [acts.ready.eq(go & wts.valid & ok), wts.ready.eq(go & acts.valid & ok)]
        if serial:
            m.d.comb += fire.eq(acts.valid & acts.ready)
        else:
            fire = acts.valid & acts.ready
        if R > 1:
            with mv.If(fire & acts.payload.last):
                mv.d.sync += hold.eq(R - 1)
            with mv.Elif(hold != 0):
                mv.d.sync += hold.eq(hold - 1)
        mx = pe.kind == "mx"
        if mx:
            # MX PEs: a block ends on every 32nd transfer of a tile and on its last
            block_end = mx_block_ends(mv, fire, acts.payload.last)

        # -- activations flow right, weights flow down, sums stay ----------------------------
        # F:exact PEs: the product reaches the sum `l_mul` cycles after its operands, so each
        # PE's valid/last follow it through as many registers; the read-out's `l_out` stages
        # delay the result rows (the whole schedule shifts, the drain does not change).
        l_mul, l_out = self.mul_latency, self._spec.readout_latency
        b_top = [self._delay(self._group(groups, f"wskew_{j}", shared, j > 0)[0], w_in[j], j,
                             f"skew_w{j}") for j in range(C)]
        b_prev = list(b_top)
        res = [[Signal(acc_shp, name=f"res_{i}_{j}") for j in range(C)] for i in range(R)]
        starts = [None] * C
        modes = self._modes(mv)
        ends = [[None] * C for _ in range(R)]     # MX: (v, last, block end, a, w) per PE
        for i in range(R):
            sk = self._group(groups, f"row_{i}", shared, i > 0)[0]
            prev = (self._delay(sk, a_in[i], i, f"skew_a{i}"),
                    self._delay(sk, fire, i, f"skew_v{i}"),
                    self._delay(sk, fire & acts.payload.last, i, f"skew_l{i}"))
            if mx:
                prev += (self._delay(sk, block_end, i, f"skew_e{i}"),)
            for j in range(C):
                a_r = Signal(a_shp, name=f"a_{i}_{j}")
                v_r = Signal(name=f"v_{i}_{j}")
                l_r = Signal(name=f"last_{i}_{j}")
                w_r = Signal(w_shp, name=f"w_{i}_{j}")
                gm, gc = self._group(groups, f"pe_{i}_{j}", shared)
                gm.d.sync += [a_r.eq(prev[0]), v_r.eq(prev[1]), l_r.eq(prev[2]),
                              w_r.eq(b_prev[j])]
                b_prev[j] = w_r
                if mx:
                    e_r = Signal(name=f"bend_{i}_{j}")
                    gm.d.sync += e_r.eq(prev[3])
                    prev = (a_r, v_r, l_r, e_r)
                    ends[i][j] = (v_r, l_r, e_r, a_r, w_r)
                    continue
                prev = (a_r, v_r, l_r)
                acc = Signal(acc_shp, name=f"acc_{i}_{j}")
                dp = PEDatapath(pe, mul_latency=l_mul, aligned=aligned, dsp_enable=en)
                gc.submodules[f"pe_{i}_{j}" if gc is core else "dp"] = dp
                gc.d.comb += [dp.a.eq(a_r), dp.w.eq(w_r), dp.acc_in.eq(acc)]
                if serial:
                    gc.d.comb += [dp.plane.eq(plane), dp.active.eq(active[i + j])]
                if modes is not None:
                    gc.d.comb += dp.low.eq(modes[i + j])
                v_p = self._delay(gc, v_r, l_mul, f"v_p{i}_{j}")
                l_p = self._delay(gc, l_r, l_mul, f"last_p{i}_{j}")
                with gc.If(v_p):
                    # a tile's sum is complete at the end of its last k-step
                    with gc.If(l_p & step if serial else l_p):
                        gc.d.sync += [res[i][j].eq(dp.acc_out), acc.eq(0)]
                    with gc.Else():
                        gc.d.sync += acc.eq(dp.acc_out)
                if i == R - 1:
                    starts[j] = v_p & l_p

        cols = [self._group(groups, f"out_{j}", shared) for j in range(C)]
        if mx:
            for j in range(C):
                starts[j] = mx_column(cols[j][1], pe, [ends[i][j] for i in range(R)],
                                      [res[i][j] for i in range(R)], j, self.add_latency)

        # -- drain: column j emits rows 0..R-1 after its bottom PE finishes a tile -----------
        # (bit-serial: one row per step, so the de-skew lines up columns that finish at
        # step boundaries, whatever the steps' lengths)
        row = []
        out_valid = None
        for j in range(C):
            gm, gc = cols[j]
            drain = Signal(name=f"drain_act{j}")
            idx = Signal(range(R), name=f"drain_row{j}")
            with gm.If(starts[j]):
                gm.d.sync += [drain.eq(1), idx.eq(0)]
            with gm.Elif(drain):
                with gm.If(idx == R - 1):
                    gm.d.sync += drain.eq(0)
                with gm.Else():
                    gm.d.sync += idx.eq(idx + 1)
            col = Signal(acc_shp, name=f"col_{j}")
            gc.d.comb += col.eq(Array(Value.cast(res[i][j]) for i in range(R))[idx])
            acc = self._delay(gm, col, C - 1 - j, f"deskew{j}")
            row.append(self._readout(gc, acc, j))
            if j == C - 1:
                out_valid = self._delay(gc, drain, l_out, "drain_out")
        if serial:
            core.submodules.move = EnableInserter(step)(mv)
            out_first = Signal()
            core.d.comb += out_first.eq(out_valid & first)    # one result row per step
            return out_first, row
        return out_valid, row



# -- stream layouts ----------------------------------------------------------------------------

def weight_layout(spec: ArraySpec) -> data.ArrayLayout:
    """Payload of the ``weights`` stream of the array ``spec`` (an
    :class:`~hwgen.arrayspec.ArraySpec`; see the module docstring)."""
    return data.ArrayLayout(operand_shapes(spec.pe)[1], spec.cols)


def act_layout(spec: ArraySpec) -> data.StructLayout:
    """Payload of the ``acts`` stream of the array ``spec``."""
    fields = {"a": data.ArrayLayout(operand_shapes(spec.pe)[0], spec.rows)}
    if spec.dataflow == "ws":
        fields["psum"] = data.ArrayLayout(acc_shape(spec.pe), spec.cols)
    fields["last"] = 1
    if spec.serial:
        fields["bits"] = spec.bits_width
    if cast(PESpec, spec.pe).kind == "dualprec":
        fields["low"] = 1
    return data.StructLayout(fields)


def result_elem(spec: ArraySpec) -> Shape | data.StructLayout:
    """Shape of one element of a ``results`` row of the array ``spec``."""
    if spec.exact_results:
        return data.StructLayout({"y": out_shape(spec.pe), "acc": acc_shape(spec.pe)})
    return out_shape(spec.pe)


def result_layout(spec: ArraySpec) -> data.ArrayLayout:
    """Payload of the ``results`` stream of the array ``spec``."""
    return data.ArrayLayout(result_elem(spec), spec.cols)


# -- payload packing (plain integers, through the layouts; used by testbenches) ------------------
# The host driver packs the same words without Amaranth: :class:`hwgen.arrayspec.ArraySpec`.

def _spec(array):
    return array if isinstance(array, ArraySpec) else array.spec


def pack_weights(array: SystolicArray | ArraySpec, row: Sequence[SupportsInt]) -> int:
    """The ``weights`` payload (an int) for one row of ``cols`` weights (ints or encodings).
    ``array``: a :class:`SystolicArray` or its :class:`~hwgen.arrayspec.ArraySpec`."""
    if len(row) != array.cols:
        raise ValueError(f"Weight row must have {array.cols} elements, not {len(row)}")
    return weight_layout(_spec(array)).const([int(x) for x in row]).as_bits()


def pack_acts(array: SystolicArray | ArraySpec, a: Sequence[SupportsInt], *, last: bool = False,
              psum: Iterable[SupportsInt] | None = None, bits: SupportsInt | None = None,
              low: bool | None = None) -> int:
    """The ``acts`` payload (an int): ``rows`` activations, the ``last`` flag, (WS) the row
    of ``cols`` partial sums as raw bit patterns (None: zeros, i.e. ``+0``) and (bit-serial
    PEs) the ``bits`` field (None: W, full precision), (dual-precision PEs) the ``low`` flag
    (None: high mode)."""
    if len(a) != array.rows:
        raise ValueError(f"Activation row must have {array.rows} elements, not {len(a)}")
    layout = act_layout(_spec(array))
    fields = {"a": [int(x) for x in a], "last": int(bool(last))}
    if array.dataflow == "ws" and psum is not None:
        elem = layout["psum"].shape.elem_shape
        # raw bit patterns: through from_bits, which also takes the exact PEs' struct
        fields["psum"] = [elem.from_bits(int(p)) if isinstance(elem, data.Layout) else int(p)
                          for p in psum]
    if array.serial:
        b = cast(int, array.weight_bits) if bits is None else int(bits)
        if not 0 <= b < 1 << cast(int, array.bits_width):
            raise ValueError(f"Bits must be in 0..{(1 << cast(int, array.bits_width)) - 1}, "
                             f"not {bits!r}")
        fields["bits"] = b
    elif bits is not None:
        raise ValueError(f"Run-time bits apply to bit-serial PEs only, not "
                         f"{cast(PESpec, array.pe).spec!r}")
    if cast(PESpec, array.pe).kind == "dualprec":
        fields["low"] = int(bool(low))
    elif low is not None:
        raise ValueError(f"Low mode applies to dual-precision PEs only, not "
                         f"{cast(PESpec, array.pe).spec!r}")
    return layout.const(fields).as_bits()


def unpack_results(array: SystolicArray | ArraySpec,
                   word: SupportsInt) -> tuple[list[int], list[int]]:
    """Split a ``results`` payload into ``(values, psums)``: ``cols`` results (signed ints for
    integer PEs, encodings for float PEs) and the ``cols`` raw running sums to send back as
    the next K-tile's ``psum`` (weight-stationary; equal to the values except for exact PEs)."""
    spec = _spec(array)
    row = result_layout(spec).from_bits(int(word))
    if spec.exact_results:
        return [int(e.y) for e in row], [e.acc.as_bits() for e in row]
    vals = [int(v) for v in row]
    return vals, list(vals)
