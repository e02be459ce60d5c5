"""The base class of the float operators (fmul, fadd, ffma): parameters, ports, module name,
pipeline cut points, the shared rounder and the valid pipeline.

It sits above :mod:`.floatraw` (the raw float and its helpers) and :mod:`.rounder` (the one
rounder), which both sit below it; each operator module subclasses :class:`FloatOpBase`.
"""

from amaranth.hdl import Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .floatraw import check_float_format, check_latency, check_rounding
from .rounder import FloatRounder

__all__ = ["FloatOpBase", "CUTS", "FMA_CUTS"]


#: Pipeline cut points of a float operator, per latency. ``"raw"``: the rounder's input (after
#: the multiply / alignment and add); ``"norm"``: inside the rounder, after normalization;
#: ``"out"``: the encoded result and flags. The FMA adds ``"prod"`` (after the multiplier and
#: the addend alignment, before the add).
CUTS = {
    0: (),
    1: ("norm",),
    2: ("raw", "norm"),
    3: ("raw", "norm", "out"),
}
FMA_CUTS = {
    0: (),
    1: ("norm",),
    2: ("raw", "norm"),
    3: ("prod", "raw", "norm"),
    4: ("prod", "raw", "norm", "out"),
}


class FloatOpBase(wiring.Component):
    """What :class:`FloatMultiplier`, :class:`FloatAdder` and :class:`FloatFMA` share:
    parameter validation, ports, ``module_name``, the valid pipeline and the output cut.

    Module names: ``<op>_<formats>_<rounding>[_l<latency>]``. ``<formats>`` is the input
    format when every input has the same format, followed by the output format if that
    differs (``fmul_e4m3_fp16_rne``); when the inputs differ every input format and then the
    output format are listed (``fadd_bf16_fp32_fp32_dyn_l2``). ``<rounding>`` is the mode or
    ``dyn``. Format names are those of :attr:`FloatFormat.name`.
    """

    _op = None
    _inputs = ("a", "b")
    _cuts = CUTS

    def __init__(self, fmts, out_fmt, rounding, latency, extra_ports=None):
        names = {"a": "Format", "b": "Format of b", "c": "Format of c"}
        self._in_fmts = {}
        first = None
        for port in self._inputs:
            f = fmts.get(port)
            if f is None:
                f = first
            else:
                f = check_float_format(f, names[port])
            if first is None:
                first = f
            self._in_fmts[port] = f
        self._out_fmt = first if out_fmt is None else check_float_format(out_fmt, "Output format")
        self._rounding = check_rounding(rounding)
        self._latency = check_latency(latency, max(self._cuts))
        ports = {port: In(f.width) for port, f in self._in_fmts.items()}
        if self._rounding == "dynamic":
            ports["rm"] = In(3)
        ports.update(extra_ports or {})
        if self._latency:
            ports["in_valid"] = In(1)
        ports["y"] = Out(self._out_fmt.width)
        ports["flags"] = Out(4)
        if self._latency:
            ports["out_valid"] = Out(1)
        super().__init__(ports)

    # -- parameters and derived facts ------------------------------------------------------
    fmt = property(lambda self: self._in_fmts["a"])
    out_fmt = property(lambda self: self._out_fmt)
    rounding = property(lambda self: self._rounding)
    latency = property(lambda self: self._latency)
    input_formats = property(lambda self: dict(self._in_fmts))

    @property
    def cuts(self):
        """The pipeline cut points in use (see :data:`CUTS`)."""
        return self._cuts[self._latency]

    @property
    def module_name(self):
        ins = list(self._in_fmts.values())
        if all(f == ins[0] for f in ins):
            names = [ins[0].name] + ([self._out_fmt.name] if self._out_fmt != ins[0] else [])
        else:
            names = [f.name for f in ins] + [self._out_fmt.name]
        rnd = "dyn" if self._rounding == "dynamic" else self._rounding
        lat = f"_l{self._latency}" if self._latency else ""
        return f"{self._op_name()}_{'_'.join(names)}_{rnd}{lat}"

    def _op_name(self):
        return self._op

    # -- shared elaboration pieces ---------------------------------------------------------
    def _rounder(self, m, *, sig_width, exp_range):
        r = FloatRounder(self._out_fmt, sig_width=sig_width, exp_range=exp_range,
                         rounding=self._rounding, register_normalized="norm" in self.cuts)
        m.submodules.rounder = r
        return r

    def _drive(self, m, cut, pairs):
        """Assign ``(dst, src)`` pairs through the cut point ``cut`` (registered if in use)."""
        dom = m.d.sync if cut in self.cuts else m.d.comb
        dom += [dst.eq(src) for dst, src in pairs]

    def _staged(self, m, cut, values, name):
        """``values`` after the cut point ``cut``: registers when in use, else the values."""
        if cut not in self.cuts:
            return values
        regs = []
        for i, v in enumerate(values):
            r = Signal.like(v, name=f"{name}{i}_q", reset_less=True) if isinstance(v, Signal) \
                else Signal(Value.cast(v).shape(), name=f"{name}{i}_q", reset_less=True)
            m.d.sync += r.eq(v)
            regs.append(r)
        return regs

    def _finish(self, m, rounder):
        """Output cut and the valid pipeline."""
        self._drive(m, "out", [(self.y, rounder.y), (self.flags, rounder.flags)])
        if self._latency:
            v = self.in_valid
            for i in range(self._latency):
                nxt = Signal(name=f"valid_{i + 1}")
                m.d.sync += nxt.eq(v)
                v = nxt
            m.d.comb += self.out_valid.eq(v)
