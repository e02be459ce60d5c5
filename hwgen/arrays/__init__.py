"""Arrays of processing elements: :class:`SystolicArray` and its PEs (:mod:`.pe`)."""

from .pe import PESpec, parse_pe, PEDatapath, ReadOut, SUPPORTED_KINDS
from .systolic import SystolicArray

__all__ = ["PESpec", "parse_pe", "PEDatapath", "ReadOut", "SUPPORTED_KINDS", "SystolicArray"]
