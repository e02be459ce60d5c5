"""Formal verification: miters of hwgen's units and the SymbiYosys runner (docs/verification.md).

:func:`prove` runs SymbiYosys (``yowasp-sby`` with the Yices solver) on a design with
assertions; :class:`PipelineMiter` asserts that a pipelined float operator computes exactly
what the unpipelined one does, its valid signal delayed by the latency;
:class:`HostLinkMiter` that the host link never writes outside a buffer and is idle once
the line has been quiet long enough (ABC's engines, :mod:`hwgen.verify.abc`).
"""

from .hostlink import HostLinkMiter
from .miters import CountMiter, PipelineMiter, StreamMiter, TableMiter
from .sby import MODES, FormalResult, prove

__all__ = ["prove", "FormalResult", "MODES", "PipelineMiter", "TableMiter", "StreamMiter",
           "CountMiter", "HostLinkMiter"]
