"""Amaranth components: the hardware units.

Float operators (one raw-float datapath each, one shared rounder):
:class:`FloatMultiplier` (``fmul``), :class:`FloatAdder` (``fadd``), :class:`FloatFMA`
(``ffma``), all finished by :class:`FloatRounder`.
"""

from .floatraw import RoundingMode, raw_layout, unpack
from .rounder import FloatRounder
from .fmul import FloatMultiplier
from .fadd import FloatAdder
from .ffma import FloatFMA

__all__ = ["FloatRounder", "FloatMultiplier", "FloatAdder", "FloatFMA", "RoundingMode",
           "raw_layout", "unpack"]
from .mxdot import MxDot
__all__ += ["MxDot"]
