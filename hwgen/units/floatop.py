"""The base class of the float operators (fmul, fadd, ffma): parameters, ports, module name,
pipeline cut points (fixed per latency, or placed by :mod:`hwgen.timing`'s planner for a
target clock), the shared rounder and the valid pipeline.

It sits above :mod:`.floatraw` (the raw float and its helpers) and :mod:`.rounder` (the one
rounder), which both sit below it; each operator module subclasses :class:`FloatOpBase`.
"""

from collections.abc import Iterable, Mapping

from amaranth.hdl import Const, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Member, Out

from ..elaboratables import refused_quietly
from ..formats import FloatFormat
from ..timing import (DelayModel, Plan, Segment, check_device, check_target_mhz, delay_model,
                      plan_cuts, plan_latency, plan_pipeline)
from .booth import check_product, significand_product
from .floatraw import check_float_format, check_latency, check_rounding, pipeline_register
from .rounder import FloatRounder, RounderGeometry

__all__ = ["FloatOpBase", "CUTS", "FMA_CUTS"]


#: Pipeline cut points of a float operator for an explicit ``latency=``, per latency.
#: ``"raw"``: the rounder's input (after the multiply / alignment and add); ``"norm"``: inside
#: the rounder, after normalization; ``"out"``: the encoded result and flags. The FMA adds
#: ``"prod"`` (after the multiplier and the addend alignment, before the add).
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
    parameter validation, ports, ``module_name``, the pipeline, the valid pipeline and the
    output cut.

    Pipelining: each operator has an ordered list of candidate cut points
    (:attr:`cut_points`: its own, then the rounder's, then ``"out"``). Which of them hold
    registers is given one of three ways: ``latency=N`` (the fixed table :data:`CUTS` /
    :data:`FMA_CUTS`, default 0), ``target_mhz=F`` with ``device=D`` (the planner of
    :mod:`hwgen.timing` picks the fewest registers whose every stage the device's delay model
    estimates to fit ``1000 / F`` ns; :attr:`plan` says what it estimated), or ``cuts=[...]``
    (any subset of :attr:`cut_points`). :attr:`latency` is the number of cuts in use.

    ``flags=False`` leaves out the exception flags: no ``flags`` port and none of the logic
    only they need (module name ``..._<rounding>_noflags...``). ``product="booth"`` (the
    multiplying operators) builds the significand product from radix-4 Booth partial
    products (:mod:`.booth`: smaller on a device without DSP blocks; module name
    ``..._booth...``), ``product="logic"`` from rows of AND gates (never a DSP block; module
    name ``..._logic...``), ``product="shiftadd"`` from one conditional add per bit of ``b``
    (the smallest product on an iCE40 without DSP blocks, the slowest; module name
    ``..._shiftadd...``); ``"auto"`` leaves ``a * b`` to synthesis.

    Module names:
    ``<op>_<formats>_<rounding>[_noflags][_booth|_logic|_shiftadd][_l<latency>[_c<mask>]]``.
    ``<formats>`` is the input format when every input has the same format, followed by the
    output format if that differs (``fmul_e4m3_fp16_rne``); when the inputs differ every
    input format and then the output format are listed (``fadd_bf16_fp32_fp32_dyn_l2``).
    ``<rounding>`` is the mode or ``dyn``. Format names are those of
    :attr:`FloatFormat.name`. ``_c<mask>`` appears when the cuts in use are not the fixed
    table's for that latency (a planned or explicit set): the lower-case hexadecimal bit
    mask of the cuts, bit ``i`` standing for ``cut_points[i]`` (``fmul_bf16_rne_l2_c5``: cut
    points 0 and 2). Equal parameters and cuts give equal names and Verilog; the same
    latency with other cuts gives another name.
    """

    _op: "str | None" = None
    _inputs: "tuple[str, ...]" = ("a", "b")
    _cuts = CUTS
    #: The rounder's ``exp_offset``: what the operator leaves out of the exponent it hands
    #: over (set by :meth:`_setup`).
    _exp_offset = 0

    def __init__(self, fmts: Mapping[str, FloatFormat | str | None],
                 out_fmt: FloatFormat | str | None, rounding: str, latency: int | None,
                 extra_ports: Mapping[str, Member] | None = None, *,
                 target_mhz: float | None = None, device: "str | None" = None,
                 cuts: Iterable[str] | None = None, flags: bool = True,
                 product: str = "auto") -> None:
        with refused_quietly(self):
            self._init(fmts, out_fmt, rounding, latency, extra_ports, target_mhz, device,
                       cuts, flags, product)

    def _init(self, fmts, out_fmt, rounding, latency, extra_ports, target_mhz, device, cuts,
              flags, product):
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
        if not isinstance(flags, bool):
            raise TypeError(f"Flags must be True or False, not {flags!r}")
        self._flags = flags
        self._product = check_product(product)
        self._setup()
        self._rgeom = RounderGeometry(self._out_fmt, *self._rounder_params())
        self._plan = None
        self._device = None
        self._target_mhz = None
        self._cut_set = self._choose_cuts(latency, target_mhz, device, cuts)
        self._latency = len(self._cut_set)
        ports = {port: In(f.width) for port, f in self._in_fmts.items()}
        if self._rounding == "dynamic":
            ports["rm"] = In(3)
        ports.update(extra_ports or {})
        if self._latency:
            ports["in_valid"] = In(1)
        ports["y"] = Out(self._out_fmt.width)
        if flags:
            ports["flags"] = Out(4)
        if self._latency:
            ports["out_valid"] = Out(1)
        super().__init__(ports)

    def _choose_cuts(self, latency, target_mhz, device, cuts):
        given = [n for n, v in (("latency", latency), ("target_mhz", target_mhz),
                                ("cuts", cuts)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"Give one of latency, target_mhz and cuts, not "
                             f"{' and '.join(given)}")
        if device is not None and target_mhz is None:
            raise ValueError(f"Device is only used with target_mhz, not alone "
                             f"(device={device!r})")
        points = self.cut_points
        if target_mhz is not None:
            target_mhz = check_target_mhz(target_mhz)
            if device is None:
                raise ValueError(f"A target of {target_mhz:g} MHz needs a device "
                                 f"(device=...)")
            self._device = check_device(device)
            self._target_mhz = target_mhz
            model = self._unit_model(self._device)
            self._plan = plan_pipeline(self.segments(model), target_mhz, self._device,
                                       model=model, what=self._base_name())
            chosen = set(self._plan.cuts)
        elif cuts is not None:
            if isinstance(cuts, str) or not hasattr(cuts, "__iter__"):
                raise TypeError(f"Cuts must be a sequence of cut point names, not {cuts!r}")
            chosen = set()
            for c in cuts:
                if c not in points:
                    raise ValueError(f"Cut point must be one of {', '.join(points)}, "
                                     f"not {c!r}")
                chosen.add(c)
        else:
            lat = check_latency(0 if latency is None else latency, max(self._cuts))
            return tuple(self._cuts[lat])
        return tuple(c for c in points if c in chosen)

    # -- hooks for the operators -----------------------------------------------------------
    def _setup(self):
        """Compute the datapath's sizes (called before the cut points are needed)."""

    def _rounder_params(self):
        """``(sig_width, exp_range, max_lz)`` of the operator's rounder
        (:class:`~hwgen.units.rounder.RounderGeometry`; ``max_lz`` ``None``: the rounder's
        default)."""
        raise NotImplementedError

    def _own_cut_points(self):
        """The operator's cut points before the rounder's, in datapath order."""
        return ("raw",)

    def _own_segments(self, model):
        """The operator's :class:`~hwgen.timing.Segment` list up to the rounder's input; the
        last one is followed by ``"raw"``."""
        raise NotImplementedError

    # -- parameters and derived facts ------------------------------------------------------
    fmt = property(lambda self: self._in_fmts["a"])
    out_fmt = property(lambda self: self._out_fmt)
    rounding = property(lambda self: self._rounding)
    latency = property(lambda self: self._latency)
    input_formats = property(lambda self: dict(self._in_fmts))
    target_mhz = property(lambda self: self._target_mhz)
    has_flags = property(lambda self: self._flags)
    product = property(lambda self: self._product,
                       doc="How the significand product is built (:data:`~.booth.PRODUCTS`).")
    device = property(lambda self: self._device)

    @property
    def _in_dsp(self):
        """The delay model's ``dsp`` for a product of the operator (``DelayModel.multiplier``):
        ``None`` (where yosys puts it) for ``a * b``, ``False`` for a product in logic."""
        return None if self._product == "auto" else False

    @property
    def plan(self) -> Plan | None:
        """The planner's :class:`~hwgen.timing.Plan` (``target_mhz=``), else ``None``."""
        return self._plan

    @property
    def cut_points(self) -> tuple[str, ...]:
        """Every candidate pipeline cut point, in datapath order: the operator's own, the
        rounder's (:class:`~hwgen.units.rounder.RounderGeometry`), then ``"out"``."""
        return tuple(self._own_cut_points()) + self._rgeom.cut_points + ("out",)

    @property
    def cuts(self) -> tuple[str, ...]:
        """The pipeline cut points in use, in datapath order."""
        return self._cut_set

    def _unit_model(self, device: "str | DelayModel") -> DelayModel:
        """``device``'s delay model with this operator's own compose factor
        (:meth:`~hwgen.timing.DelayModel.for_unit`); a given model is used as it is."""
        if isinstance(device, DelayModel):
            return device
        return delay_model(device, unit=self._op)

    def segments(self, device: "str | DelayModel") -> list[Segment]:
        """The datapath as :class:`~hwgen.timing.Segment` objects with the delays of
        ``device``'s model (a device name: the model with this operator's compose factor;
        or a :class:`~hwgen.timing.DelayModel`). A cut point the device should not use (a
        split of a product it puts in a DSP block) is left out."""
        model = self._unit_model(device)
        return list(self._own_segments(model)) + self._rgeom.segments(model, "out")

    def estimate(self, device: "str | DelayModel") -> Plan:
        """The delay model's estimate of this unit's own pipeline (its :attr:`cuts`) on
        ``device`` (a name, or a :class:`~hwgen.timing.DelayModel` to use instead of the
        operator's own): a :class:`~hwgen.timing.Plan` (``stage_ns``, ``fmax_mhz``)."""
        model = self._unit_model(device)
        return plan_cuts(self.segments(model), self._cut_set, model.device, model=model)

    def plan_for_latency(self, latency: int, device: "str | DelayModel") -> Plan:
        """The planner's best placement of ``latency`` registers on ``device`` (a
        :class:`~hwgen.timing.Plan`; build it with ``cuts=plan.cuts``)."""
        model = self._unit_model(device)
        return plan_latency(self.segments(model), latency, model.device, model=model)

    @property
    def module_name(self) -> str:
        lat = f"_l{self._latency}" if self._latency else ""
        fixed = self._cuts.get(self._latency)
        if self._latency and tuple(self._cut_set) != tuple(fixed or ()):
            points = self.cut_points
            mask = sum(1 << points.index(c) for c in self._cut_set)
            lat += f"_c{mask:x}"
        return f"{self._base_name()}{lat}"

    def _base_name(self):
        ins = list(self._in_fmts.values())
        if all(f == ins[0] for f in ins):
            names = [ins[0].name] + ([self._out_fmt.name] if self._out_fmt != ins[0] else [])
        else:
            names = [f.name for f in ins] + [self._out_fmt.name]
        rnd = "dyn" if self._rounding == "dynamic" else self._rounding
        fl = "" if self._flags else "_noflags"
        bo = "" if self._product == "auto" else f"_{self._product}"
        return f"{self._op_name()}_{'_'.join(names)}_{rnd}{fl}{bo}"

    def _op_name(self):
        return self._op

    # -- shared elaboration pieces ---------------------------------------------------------
    def _mul(self, m, a, b):
        """The significand product ``a * b`` as :attr:`product` says (its signals in ``m``)."""
        return significand_product(a, b, self._product, m)

    def _rounder(self, m):
        """The operator's :class:`~hwgen.units.rounder.FloatRounder`, as its geometry
        (:meth:`_rounder_params`) says, with the rounder's cut points in use."""
        g = self._rgeom
        rcuts = [c for c in self._cut_set if c in g.cut_points]
        r = FloatRounder(self._out_fmt, sig_width=g.sig_width, exp_range=g.exp_range,
                         rounding=self._rounding, cuts=rcuts, flags=self._flags,
                         max_lz=g.max_lz, exp_offset=self._exp_offset)
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
            if isinstance(v, Const):
                regs.append(v)          # nothing to register
                continue
            r = Signal.like(v, name=f"{name}{i}_q", reset_less=True) if isinstance(v, Signal) \
                else Signal(Value.cast(v).shape(), name=f"{name}{i}_q", reset_less=True)
            m.d.sync += r.eq(v)
            regs.append(r)
        return regs

    def _cut(self, m, cut, values):
        """A dict of values after the cut point ``cut``: registers named ``<cut>_<key>_q``
        when in use (constants pass), else the same dict."""
        if cut not in self.cuts:
            return values
        return {k: pipeline_register(m, v, f"{cut}_{k}_q") for k, v in values.items()}

    def _finish(self, m, rounder):
        """Output cut and the valid pipeline."""
        pairs = [(self.y, rounder.y)]
        if self._flags:
            pairs.append((self.flags, rounder.flags))
        self._drive(m, "out", pairs)
        if self._latency:
            v = self.in_valid
            for i in range(self._latency):
                nxt = Signal(name=f"valid_{i + 1}")
                m.d.sync += nxt.eq(v)
                v = nxt
            m.d.comb += self.out_valid.eq(v)
