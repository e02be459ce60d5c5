"""The precision explorer: which number format should I build?

Runs a small neural network with every multiply and every accumulate carried out in a
candidate format (the golden model's semantics, vectorized), measures its accuracy against
the hardware cost of the format's MAC unit, and finds the cheapest format within an accuracy
target, either exhaustively or with the fast precision search of Hill et al.

Modules:

:mod:`~hwgen.explore.models`
    The model (a small graph of layers), the ``.npz`` model and data file formats, their
    loaders and validator, and the built-in models (docs/models.md).
:mod:`~hwgen.explore.onnx_io`
    ONNX import (a subset of operators, checked against onnxruntime) and export.
:mod:`~hwgen.explore.emulate`
    Exact (float64), custom-float and fixed-point inference.
:mod:`~hwgen.explore.cost`
    Hardware cost of a candidate's MAC from out-of-context synthesis (cached on disk).
:mod:`~hwgen.explore.search`
    The design space, exhaustive sweep and fast search.
:mod:`~hwgen.explore.rtl`
    ``--verify-rtl``: the first inputs' layers through the systolic array RTL (cocotb),
    checked bit for bit against the emulation.
:mod:`~hwgen.explore.chain`
    A model compiled for a board that chains its layers on chip (protocol version 2):
    resident weights, biases and the layer table, and a numpy model of the board's INFER.
:mod:`~hwgen.explore.report`
    One exploration, its table, JSON report and plot: what ``hwgen explore``
    (:mod:`hwgen.cli.explore`) runs.

This is the top layer: it imports the golden model (and the units and the synthesis flow for
costs), never the other way round.
"""

__all__ = []
