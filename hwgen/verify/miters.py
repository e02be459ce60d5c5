"""Miters: designs whose assertions say that two circuits agree, for :func:`~hwgen.verify.prove`.

:class:`PipelineMiter` puts a pipelined float operator (``fmul``, ``fadd``, ``ffma`` with
``latency=N``, or planned ``cuts``) beside the same operator unpipelined, on the same free
inputs every cycle (operands, rounding mode, ``in_valid``, the reset). The unpipelined
unit's ``y`` and ``flags`` go through ``N`` registers; ``in_valid`` goes through ``N`` more
(reset like the unit's valid pipeline). Asserted every cycle:

* ``out_valid`` is ``in_valid`` of ``N`` cycles earlier (the valid shift), and
* whenever ``out_valid`` is high, ``y`` and ``flags`` equal the unpipelined unit's result for
  the operands of ``N`` cycles earlier.

Proven by k-induction, this says that pipelining never changes a result, for every input
sequence.

:class:`TableMiter` puts a combinational operator beside a table of the golden model's
results (:mod:`hwgen.golden`) for every input (every operand encoding and, for dynamic
rounding, the rounding codes 0..4; the codes 5..7 behave as 0), and asserts that they agree.
A pass is a proof that the gateware computes the golden model's function, to the bit.

``ref_delay`` and ``ref_kwargs`` of :class:`PipelineMiter` and ``table_kwargs`` of
:class:`TableMiter` exist to show that a check can fail (a mutation: the reference delayed by
the wrong number of cycles, or rounding differently).
"""

from amaranth.hdl import Assert, Cat, Elaboratable, Module, Signal

__all__ = ["PipelineMiter", "TableMiter", "StreamMiter"]

_OPS = ("fmul", "fadd", "ffma")
#: The constructor options that only place registers (the reference unit has none of them).
_PIPELINE_OPTIONS = ("latency", "cuts", "target_mhz", "device")


class PipelineMiter(Elaboratable):
    """The miter of ``op`` on ``fmt``: pipelined (``dut_kwargs``: ``latency=N`` or ``cuts``)
    against unpipelined (``ref_kwargs``, default the same options without the pipeline).

    Parameters
    ----------
    op : str
        ``fmul``, ``fadd`` or ``ffma``.
    fmt : str
        The operands' format (small formats: the proof grows with the datapath).
    rounding : str
        Rounding mode, or ``dynamic`` (then ``rm`` is a free input too).
    dut_kwargs : dict
        Pipeline of the unit under test (``latency=`` or ``cuts=`` or ``target_mhz=`` with
        ``device=``) and any other constructor option (``flags=False``, ``product=``), which
        the reference gets too. A unit without flags is checked on ``y`` alone.
    ref_delay : int or None
        Cycles the reference result is delayed (default: the unit's latency). Another value
        is a deliberate mistake.
    ref_kwargs : dict
        Extra options of the reference unit (a different ``rounding`` is a mistake too).
    """

    def __init__(self, op, fmt, *, rounding="rne", dut_kwargs=None, ref_delay=None,
                 ref_kwargs=None):
        if op not in _OPS:
            raise ValueError(f"Operator must be one of {', '.join(_OPS)}, not {op!r}")
        self.op, self.fmt, self.rounding = op, fmt, rounding
        self.dut = self._unit(dict(rounding=rounding, **(dut_kwargs or {})))
        if not self.dut.latency:
            raise ValueError("The unit under test must be pipelined (latency >= 1)")
        ref_kw = {k: v for k, v in (dut_kwargs or {}).items() if k not in _PIPELINE_OPTIONS}
        ref_kw["rounding"] = rounding
        ref_kw.update(ref_kwargs or {})
        self.ref = self._unit(ref_kw)
        self.delay = self.dut.latency if ref_delay is None else int(ref_delay)
        #: The free inputs (top-level ports): operands, ``rm`` if dynamic, ``in_valid``.
        self.inputs = {n: Signal(len(getattr(self.dut, n)), name=f"in_{n}")
                       for n in ("a", "b", "c") if hasattr(self.dut, n)}
        if rounding == "dynamic":
            self.inputs["rm"] = Signal(3, name="in_rm")
        self.inputs["in_valid"] = Signal(name="in_valid")

    def ports(self):
        """The free inputs, for :func:`amaranth.back.rtlil.convert` (the clock and reset of
        the ``sync`` domain are added by it)."""
        return list(self.inputs.values())

    def _unit(self, kw):
        from ..units import FloatAdder, FloatFMA, FloatMultiplier
        cls = {"fmul": FloatMultiplier, "fadd": FloatAdder, "ffma": FloatFMA}[self.op]
        return cls(self.fmt, **kw)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        m.submodules.ref = ref = self.ref
        for n, s in self.inputs.items():
            if n == "in_valid":
                m.d.comb += dut.in_valid.eq(s)
                continue
            m.d.comb += getattr(dut, n).eq(s)
            if hasattr(ref, n):
                m.d.comb += getattr(ref, n).eq(s)
        in_valid = self.inputs["in_valid"]
        # the result: y and, where the unit has them, the flags
        out = Cat(ref.y, ref.flags) if ref.has_flags else ref.y
        dut_out = Cat(dut.y, dut.flags) if dut.has_flags else dut.y
        valid = in_valid
        for i in range(self.delay):
            o_q = Signal.like(out, name=f"ref_out_{i + 1}")
            v_q = Signal(name=f"ref_valid_{i + 1}")
            m.d.sync += [o_q.eq(out), v_q.eq(valid)]
            out, valid = o_q, v_q
        m.d.comb += [
            Assert(dut.out_valid == valid, "out_valid is in_valid of latency cycles before"),
            Assert(~dut.out_valid | (dut_out == out),
                   "the pipelined result is the unpipelined one"),
        ]
        return m


class TableMiter(Elaboratable):
    """A combinational ``op`` on ``fmt`` (unpipelined) against the golden model's table of
    results. ``table_kwargs`` (e.g. ``rounding="rtz"`` for a unit that rounds to nearest)
    changes the table only: a deliberate mistake, to see the check fail. ``unit_kwargs``:
    other options of the unit (``flags=False``: checked on ``y`` alone; ``product=``)."""

    def __init__(self, op, fmt, *, rounding="rne", table_kwargs=None, unit_kwargs=None):
        if op not in _OPS:
            raise ValueError(f"Operator must be one of {', '.join(_OPS)}, not {op!r}")
        from ..units import FloatAdder, FloatFMA, FloatMultiplier
        cls = {"fmul": FloatMultiplier, "fadd": FloatAdder, "ffma": FloatFMA}[op]
        self.op, self.fmt, self.rounding = op, fmt, rounding
        self.unit = cls(fmt, rounding=rounding, **(unit_kwargs or {}))
        self.table_rounding = (table_kwargs or {}).get("rounding", rounding)
        self.operands = [n for n in ("a", "b", "c") if hasattr(self.unit, n)]
        self.inputs = {n: Signal(len(getattr(self.unit, n)), name=f"in_{n}")
                       for n in self.operands}
        if rounding == "dynamic":
            self.inputs["rm"] = Signal(3, name="in_rm")

    def ports(self):
        return list(self.inputs.values())

    def table(self):
        """``{(rm, a, b[, c]): (y, flags)}`` from the golden model, as integers (``rm`` is
        ``None`` for a static rounding mode)."""
        import numpy as np

        from .. import golden
        from ..formats import parse_format
        f = parse_format(self.fmt)
        codes = np.arange(1 << f.width)
        grids = np.meshgrid(*([codes] * len(self.operands)), indexing="ij")
        ops = [g.ravel() for g in grids]
        modes = range(5) if self.rounding == "dynamic" else [None]
        fn = {"fmul": golden.mul, "fadd": golden.add, "ffma": golden.fma}[self.op]
        out = {}
        for rm in modes:
            y, fl = fn(f, *ops, self.table_rounding if rm is None else rm)
            for k, vals in enumerate(zip(*ops)):
                out[(rm,) + tuple(map(int, vals))] = (int(y[k]), int(fl[k]))
        return out

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self.unit
        for n, s in self.inputs.items():
            m.d.comb += getattr(unit, n).eq(s)
        want_y = Signal.like(unit.y, name="table_y")
        want_f = Signal(4, name="table_flags")
        width = len(self.inputs[self.operands[0]])
        ops = [self.inputs[n] for n in self.operands]
        rm = self.inputs.get("rm")
        sel = Cat(*ops, *([rm] if rm is not None else []))
        ok = Signal()
        with m.Switch(sel):
            for key, (y, fl) in self.table().items():
                rm_code, *vals = key
                index = sum(v << (i * width) for i, v in enumerate(vals))
                # the rounding codes 5..7 behave as 0 (rne)
                codes = [rm_code] if rm_code else ([None] if rm_code is None else [0, 5, 6, 7])
                for c in codes:
                    idx = index if c is None else index | (c << (width * len(ops)))
                    with m.Case(idx):
                        m.d.comb += [want_y.eq(y), want_f.eq(fl)]
            with m.Default():
                m.d.comb += ok.eq(1)           # not reached: every input has a row
        same = (unit.y == want_y) & (unit.flags == want_f) if unit.has_flags else \
            (unit.y == want_y)
        m.d.comb += Assert(same, "the unit computes the golden model's table")
        m.d.comb += Assert(~ok, "every input is in the table")
        return m


class StreamMiter(Elaboratable):
    """The stream contract of a streaming component, as assertions.

    Every input of ``component`` is free (a top-level port), except that each input stream's
    source is assumed to obey the stream rules (once ``valid`` is high, it and the payload
    hold until ``ready``). Asserted, for each output stream, every cycle after one without
    reset: if ``valid`` was high and ``ready`` low, ``valid`` is still high and the payload
    unchanged. Proven by k-induction where it closes (``mode prove``).

    ``corrupt={"o"}`` is a deliberate mistake, to see the check fail: the output stream's
    payload as the check sees it has its low bit flipped every other cycle, as a unit that
    lets its output register change while the result waits would.
    """

    def __init__(self, component, *, corrupt=()):
        from amaranth.hdl import Value
        from amaranth.lib import wiring
        self.component = component
        self.corrupt = set(corrupt)
        self.inputs = {}
        self._leaves = []
        for path, member, value in component.signature.flatten(component):
            name = "__".join(str(p) for p in path)
            value = Value.cast(value)
            if member.flow == wiring.In:
                self.inputs[name] = Signal(len(value), name=f"in_{name}")
            self._leaves.append((path, member.flow == wiring.In, value, name))
        streams = {}
        for path, is_in, value, name in self._leaves:
            if len(path) == 2 and path[1] in ("payload", "valid", "ready"):
                streams.setdefault(path[0], {})[path[1]] = (is_in, value, name)
        self.streams = {k: v for k, v in streams.items() if len(v) == 3}
        unknown = self.corrupt - set(self.streams)
        if unknown:
            raise ValueError(f"Streams to corrupt must be streams of the component, not "
                             f"{sorted(unknown)!r}")

    def ports(self):
        return list(self.inputs.values())

    def elaborate(self, platform):
        from amaranth.hdl import Assume, ResetSignal
        m = Module()
        m.submodules.dut = self.component
        for _path, is_in, value, name in self._leaves:
            if is_in:
                m.d.comb += value.eq(self.inputs[name])
        started = Signal(name="started")
        prev_rst = Signal(name="prev_rst", init=1)
        m.d.sync += [started.eq(1)]
        m.d.sync += prev_rst.eq(ResetSignal())
        m.d.comb += Assume(~ResetSignal() | ~started)
        check = started & ~prev_rst
        for sname, parts in self.streams.items():
            is_in_payload, payload, _ = parts["payload"]
            _, valid, _ = parts["valid"]
            _, ready, _ = parts["ready"]
            payload = payload.as_unsigned()          # compare bits, whatever the shape
            if sname in self.corrupt:
                toggle = Signal(name=f"{sname}_toggle")
                m.d.sync += toggle.eq(~toggle)
                payload = payload ^ toggle
            p_valid = Signal(name=f"{sname}_prev_valid")
            p_ready = Signal(name=f"{sname}_prev_ready")
            p_payload = Signal(len(payload), name=f"{sname}_prev_payload")
            m.d.sync += [p_valid.eq(valid), p_ready.eq(ready), p_payload.eq(payload)]
            waiting = check & p_valid & ~p_ready
            held = valid & (payload == p_payload)
            if is_in_payload:       # the source is the environment: assume it behaves
                m.d.comb += Assume(~waiting | held)
            else:
                m.d.comb += Assert(~waiting | held,
                                   f"{sname}: valid and payload hold until ready")
        return m


class CountMiter(StreamMiter):
    """The stream contract plus counting, for a unit with an input stream ``i`` and an output
    stream ``o`` (one result per ``i.payload.last`` when ``group``, else per input):

    - nothing is duplicated: results out never exceed groups in;
    - the occupancy (groups in minus results out) stays within ``capacity``;
    - nothing is lost or stuck: after ``drain`` cycles in a row with ``o.ready`` high and no
      group closing on ``i``, every group's result is out (occupancy 0).

    Checked by bounded model checking (``mode bmc``: the counters make k-induction need
    invariants of each unit's internals). ``corrupt="drop"`` is a deliberate mistake: the
    check sees one output transfer of every two, as a unit that loses results would.
    """

    def __init__(self, component, *, capacity, drain, group=True, corrupt=None):
        super().__init__(component)
        if corrupt not in (None, "drop"):
            raise ValueError(f"Corruption must be None or 'drop', not {corrupt!r}")
        if not {"i", "o"} <= set(self.streams):
            raise ValueError("CountMiter needs an input stream i and an output stream o")
        self.capacity, self.drain, self.group, self.drop = capacity, drain, group, corrupt

    def elaborate(self, platform):
        from amaranth.hdl import Assert, ResetSignal
        m = super().elaborate(platform)
        c = self.component
        in_x = c.i.valid & c.i.ready
        closes = in_x & (c.i.payload.last if self.group else 1)
        out_x = c.o.valid & c.o.ready
        if self.drop:
            skip = Signal(name="drop_toggle")
            with m.If(out_x):
                m.d.sync += skip.eq(~skip)
            out_x = out_x & ~skip
        width = max(self.capacity + 2, self.drain + 2).bit_length() + 1
        occ = Signal(range(-1, 1 << width), name="occupancy")
        quiet = Signal(range(self.drain + 2), name="quiet")
        with m.If(~ResetSignal()):
            m.d.sync += occ.eq(occ + closes - out_x)
            with m.If(c.o.ready & ~closes):
                with m.If(quiet <= self.drain):
                    m.d.sync += quiet.eq(quiet + 1)
            with m.Else():
                m.d.sync += quiet.eq(0)
        m.d.comb += [Assert(occ >= 0, "no result without its group (nothing duplicated)"),
                     Assert(occ <= self.capacity, "occupancy within the capacity"),
                     Assert((quiet <= self.drain) | (occ == 0),
                            "every group's result comes out (nothing lost or stuck)")]
        return m
