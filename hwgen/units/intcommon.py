"""Small helpers shared by the integer and run-time-precision units (and, :func:`delay`, by
the float MAC and the systolic arrays)."""

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from amaranth import Module, Mux, Signal, Value
from amaranth.hdl import ShapeLike, ValueLike

if TYPE_CHECKING:
    from amaranth.lib import stream, wiring

__all__ = ["check_int", "signed_width", "adder_tree", "onehot_select", "accumulate_stream",
           "delay", "MAX_LANES",
           "MAX_ACT_BITS", "MAX_ACC_BITS", "GUARD_BITS"]

MAX_LANES = 256
MAX_ACT_BITS = 24
MAX_ACC_BITS = 62
#: Default headroom of an accumulator over one operation: groups of up to 256 operations
#: never wrap.
GUARD_BITS = 8


def check_int(what: str, value: object, lo: int, hi: int, extra: str = "") -> int:
    """``value`` if it is an integer in ``[lo, hi]``; else TypeError/ValueError naming it."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{what} must be between {lo} and {hi}{extra}, not {value!r}")
    return value


def signed_width(lo: int, hi: int) -> int:
    """Bits of the smallest two's-complement shape holding every integer in ``[lo, hi]``."""
    n = 1
    while not -(1 << (n - 1)) <= lo <= hi <= (1 << (n - 1)) - 1:
        n += 1
    return n


def adder_tree(terms: Iterable[Value]) -> Value:
    """Balanced sum of Amaranth values (widths grow one bit per level)."""
    terms = list(terms)
    while len(terms) > 1:
        nxt = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return terms[0]


def onehot_select(onehot: Sequence[ValueLike] | Value, values: Sequence[ValueLike],
                  width: int | None = None) -> Value:
    """``values[i]`` where bit i of ``onehot`` is set (0 if none; more than one set ORs
    them): an AND-OR tree, cut to ``width`` bits when given."""
    terms = [Mux(onehot[i], v, 0) for i, v in enumerate(values)]
    while len(terms) > 1:
        terms = [terms[i] | terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0] if width is None else terms[0][:width]


def accumulate_stream(
        m: Module, i: "stream.Interface | wiring.FlippedInterface", o: "stream.Interface",
        last: Value, terms: Sequence[tuple[Value, ShapeLike, ShapeLike | None]],
        pack: Callable[[list[Signal]], ValueLike],
        combine: Callable[[list[Signal]], Sequence[tuple[Value, ShapeLike]]] | None = None
        ) -> None:
    """The back end shared by the lane MACs: one register stage, running sums, one result
    per ``last``.

    ``terms`` is a list of ``(value, reg_shape, acc_shape)``: each value (computed from
    ``i.payload``) is registered in ``reg_shape``, then added into an accumulator of
    ``acc_shape`` (restarted after every ``last``).
    With ``combine``, the registered values are not added as they are: ``combine(registered)``
    returns ``[(addend, acc_shape), ...]``, one accumulator each (the ``acc_shape`` of
    ``terms`` is then unused), e.g. to finish a multiplication whose partial products are
    registered.
    When the registered operation carries ``last``, ``pack(sums)`` (the new sums, in order) is
    registered onto ``o.payload`` and ``o.valid`` rises; it stays until ``o.ready``. ``i.ready``
    is low only while a finished result waits and the next one is ready to replace it, so no
    input or result is lost or duplicated under any stall pattern.
    """
    p_valid, p_out = Signal(), Signal()
    p_terms = [Signal(reg) for _, reg, _ in terms]
    adds = combine(p_terms) if combine else [(t, acc) for t, (_, _, acc) in zip(p_terms, terms)]
    accs = [Signal(acc) for _, acc in adds]
    nexts = [Signal(acc) for _, acc in adds]
    fresh = Signal(init=1)
    o_valid = Signal()
    o_payload = Signal(o.payload.shape())
    adv = Signal()
    m.d.comb += [o.valid.eq(o_valid), o.payload.eq(o_payload),
                 adv.eq(~(o_valid & ~o.ready & p_valid & p_out)), i.ready.eq(adv)]
    m.d.comb += [n.eq(Mux(fresh, 0, a) + t) for n, a, (t, _) in zip(nexts, accs, adds)]
    with m.If(adv):
        m.d.sync += [p_valid.eq(i.valid), p_out.eq(last)]
        m.d.sync += [pt.eq(v) for pt, (v, _, _) in zip(p_terms, terms)]
        with m.If(p_valid):
            m.d.sync += [a.eq(n) for a, n in zip(accs, nexts)]
            m.d.sync += fresh.eq(p_out)
        with m.If(p_valid & p_out):
            m.d.sync += [o_valid.eq(1), o_payload.eq(pack(nexts))]
        with m.Elif(o.ready):
            m.d.sync += o_valid.eq(0)


def delay(module: Module, value: Value, n: int, name: str) -> Value:
    """``value`` delayed by ``n`` registers in ``module``'s ``sync`` domain (named
    ``<name>_d<k>``); ``value`` itself when ``n`` is 0. Put ``module`` under an
    ``EnableInserter`` to stall the registers with a unit's pipeline."""
    for k in range(n):
        reg = Signal(value.shape(), name=f"{name}_d{k}")
        module.d.sync += reg.eq(value)
        value = reg
    return value
