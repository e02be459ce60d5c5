"""MX processing elements (``mx:E[:EB]``) of output-stationary systolic arrays.

Each PE owns one output: it adds the exact product of each element pair to its block register
(a fixed-point integer, :func:`~hwgen.golden.mx.mx_block_sum_bits` bits, with sticky NaN/Inf
flags), and on the block's last element hands the block's exact sum, its scale exponent
(the two E8M0 codes it arrived with, an exponent add) and flags to its column's accumulation
unit. That unit adds the scaled block sum to the PE's FP32 running sum with one rounding
(:func:`~hwgen.units.mxdot.mx_accumulate` and the shared
:class:`~hwgen.units.rounder.FloatRounder`, as :class:`~hwgen.units.mxdot.MxDot` does), a clock
later, and writes it back into the PE's FP32 register (or, on a tile's last block, into the
PE's result register, clearing the running sum to ``+0``).

Why one accumulation unit per column is enough: row i's activations enter the array i clocks
after row 0's and reach column j j clocks later, so PE (i, j) closes block b on clock
``t_b + i + j + 1``, where ``t_b`` is when the block's last transfer entered. Blocks of one row
are at least 32 transfers apart, so two PEs of a column close blocks on the same clock only if
their rows are 32 or more apart: never in an array of at most 32 rows
(:data:`~hwgen.arrayspec.MX_MAX_ROWS`). Stalls freeze the whole array, so they keep the clocks
distinct. The FP32 add is the MX PE's large part (an FMA-sized aligner and a rounder); one per
column instead of one per PE divides it by the number of rows, for a row-select mux.

The semantics, to the bit, are those of :func:`hwgen.golden.matmul.matmul` for MX PEs
(:func:`hwgen.golden.mx.mx_dot` of each row of A and column of B). A block's scale is the one
its last word carries (:func:`hwgen.golden.mx.mx_unpack_words`).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed

from ..formats import parse_format
from ..golden.mx import E8M0_NAN, check_mx_element, mx_block_sum_bits
from ..pespec import MX_PE_BLOCK, PESpec
from ..units.intcommon import onehot_select
from ..units.mxdot import (cut_registers, mx_acc_exp_offset, mx_acc_geometry, mx_accumulate,
                           mx_product, mx_term_exp, mx_term_exp_shape)
from ..units.rounder import FloatRounder, RounderGeometry

__all__ = ["mx_block_ends", "mx_column", "mx_acc_cuts", "mx_pe_paths"]

_FP32 = parse_format("fp32")


def mx_block_ends(m: Module, fire, last) -> Signal:
    """The block-end flag of the transfer entering the array: set on every 32nd transfer of a
    tile and on the tile's ``last`` (the host pads K to whole blocks, so the two agree; a
    shorter final block is closed by ``last`` all the same)."""
    count = Signal(range(MX_PE_BLOCK), name="mx_count")
    end = Signal(name="mx_block_end")
    m.d.comb += end.eq(fire & ((count == MX_PE_BLOCK - 1) | last))
    with m.If(fire):
        m.d.sync += count.eq(Mux(end, 0, count + 1))
    return end


def _reference(pe: PESpec):
    """The :class:`~hwgen.units.mxdot.MxDot` whose accumulation a column of ``pe`` shares
    (only asked for its cut points and delays: never built)."""
    from ..elaboratables import not_built
    from ..units.mxdot import MxDot
    return not_built(MxDot(pe.a_fmt.name, b_elem=pe.w_fmt.name, lanes=8))


def mx_acc_cuts(pe: PESpec, latency: int) -> tuple[str, ...]:
    """The cut points of ``latency`` registers in a column's FP32 accumulation: those of an
    :class:`~hwgen.units.mxdot.MxDot` accumulation loop of ``latency + 1`` cycles (placed by
    the delay model of :data:`~hwgen.units.mxdot.MXDOT_REFERENCE_DEVICE`: ``"raw"`` for
    one, then spread over the alignment, the add and the rounder)."""
    return _reference(pe).acc_cuts_for(latency) if latency else ()


def mx_pe_paths(pe: PESpec, model):
    """``(block, accumulation)``: the segments of an MX PE's block-sum path (element decode,
    the exact product and the block register's add: no register may go there) and of the
    column's accumulation (:meth:`~hwgen.units.mxdot.MxDot.acc_segments`), on ``model``."""
    from ..timing import Segment
    unit = _reference(pe)
    W, _ = mx_block_sum_bits(pe.a_fmt.name, pe.w_fmt.name, MX_PE_BLOCK)
    block = [Segment("product", model.multiplier(pe.a_fmt.width, pe.w_fmt.width)),
             Segment("block add", model.adder(W))]
    return block, unit.acc_segments(model)


def mx_column(core: Module, pe: PESpec, pes, res, j: int, latency: int = 0) -> Signal:
    """Column ``j`` of an MX array: its PEs' block registers and FP32 running sums, and the
    column's accumulation unit (logic in ``core``, enable-gated by the array) with
    ``latency`` registers (:func:`mx_acc_cuts`). A PE's running sum is read a clock after
    its block closes and written ``latency`` clocks later, long before its next block
    closes (32 transfers on).

    ``pes``: per row, the PE's ``(valid, last, block_end, a, w)`` registers (``a``, ``w``:
    operand words); ``res``: per row, the PE's result register (written on a tile's last
    block). Returns the drain's start: the bottom PE's tile result is in ``res`` from the
    next clock on.
    """
    ea, eb = check_mx_element(pe.a_fmt.name), check_mx_element(pe.w_fmt.name)
    W, lsb = mx_block_sum_bits(ea.name, eb.name, MX_PE_BLOCK)
    R = len(pes)
    t_exp_shape = mx_term_exp_shape(W, lsb)

    events, totals, exps, flags, lasts, accs = [], [], [], [], [], []
    for i, (v, last, end, a, w) in enumerate(pes):
        tag = f"_{i}_{j}"
        term, p_nan, p_pinf, p_ninf, p_inv = mx_product(core, ea, eb, a[:ea.width],
                                                        w[:eb.width], tag)
        blk = Signal(signed(W), name=f"blk{tag}")
        k_flags = Signal(4, name=f"blk_flags{tag}")   # nan, +inf, -inf, invalid so far
        total = Signal(signed(W), name=f"blk_total{tag}")
        core.d.comb += total.eq(blk + term)
        now = Signal(4, name=f"blk_flags_next{tag}")
        core.d.comb += now.eq(k_flags | Cat(p_nan, p_pinf, p_ninf, p_inv))
        with core.If(v):
            core.d.sync += [blk.eq(Mux(end, 0, total)), k_flags.eq(Mux(end, 0, now))]
        sa, sb = a[ea.width:ea.width + 8], w[eb.width:eb.width + 8]
        t_exp = Signal(t_exp_shape, name=f"blk_exp{tag}")
        core.d.comb += t_exp.eq(mx_term_exp(sa, sb, W, lsb))
        scale_nan = (sa == E8M0_NAN) | (sb == E8M0_NAN)
        event = Signal(name=f"blk_end{tag}")
        core.d.comb += event.eq(v & end)
        events.append(event)
        totals.append(total)
        exps.append(t_exp)
        flags.append(now | scale_nan)          # a NaN scale makes the block NaN
        lasts.append(last)
        accs.append(Signal(32, name=f"acc{tag}"))     # the running sum: +0 after reset

    # The column's register: the one PE closing a block this clock (at most one, above).
    ev = Signal(R, name=f"mx_ev_row{j}")
    ev_sum = Signal(signed(W), name=f"mx_ev_sum{j}")
    ev_exp = Signal(t_exp_shape, name=f"mx_ev_exp{j}")
    ev_flags = Signal(4, name=f"mx_ev_flags{j}")
    ev_last = Signal(name=f"mx_ev_last{j}")
    core.d.sync += [ev.eq(Cat(*events)),
                    ev_sum.eq(onehot_select(events, totals)),
                    ev_exp.eq(onehot_select(events, exps)),
                    ev_flags.eq(onehot_select(events, flags)),
                    ev_last.eq(Cat(*(e & l for e, l in zip(events, lasts))).any())]

    unit = Module()
    core.submodules[f"mx_acc{j}"] = unit
    cuts = mx_acc_cuts(pe, latency)

    loop_cut = cut_registers(unit, cuts, ("row", "last"))

    acc_in = Signal(32, name="acc_in")
    unit.d.comb += acc_in.eq(onehot_select(ev, accs))
    t = dict(sum=ev_sum, exp=ev_exp, nan=ev_flags[0], pinf=ev_flags[1], ninf=ev_flags[2],
             inv=ev_flags[3])
    raw, side = mx_accumulate(unit, W, lsb, "rne", t, acc_in,
                              dict(rm=None, row=ev, last=ev_last), loop_cut)
    _, _, _, top, exps_range = mx_acc_geometry(W, lsb)
    v = loop_cut("raw", dict(zip(("sign", "exp", "sig", "nan", "inf", "inv"), raw),
                             row=side["row"], last=side["last"]))
    row, last = v.pop("row"), v.pop("last")
    rcuts = [c for c in cuts if c in RounderGeometry(_FP32, top, exps_range).cut_points]
    unit.submodules.rounder = rnd = FloatRounder(_FP32, sig_width=top, exp_range=exps_range,
                                                 rounding="rne", cuts=rcuts,
                                                 exp_offset=mx_acc_exp_offset(W, lsb))
    for k in range(len(rcuts)):             # the row and last ride beside the rounder's cuts
        r_q, l_q = Signal(R, name=f"rnd_row_q{k}"), Signal(name=f"rnd_last_q{k}")
        unit.d.sync += [r_q.eq(row), l_q.eq(last)]
        row, last = r_q, l_q
    unit.d.comb += [rnd.sign.eq(v["sign"]), rnd.exp.eq(v["exp"]), rnd.sig.eq(v["sig"]),
                    rnd.nan.eq(v["nan"]), rnd.inf.eq(v["inf"]), rnd.invalid.eq(v["inv"])]
    for i in range(R):
        with core.If(row[i]):
            with core.If(last):
                core.d.sync += [res[i].eq(rnd.y), accs[i].eq(0)]
            with core.Else():
                core.d.sync += accs[i].eq(rnd.y)
    return row[R - 1] & last

