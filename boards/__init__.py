"""Boards hwgen builds for: a registry of board name → :class:`Board`.

Each board is one small module in this package (``icebreaker.py``, ``ulx3s.py``) that calls
:func:`register` with an amaranth-boards platform; modules here are found automatically, so
adding a board is adding one file. The board top-level itself is :class:`boards.top.BoardTop`
(the array, its buffers and the UART host link of :mod:`hwgen.host_link`).
"""

import importlib
import pkgutil
from dataclasses import dataclass, field

__all__ = ["Board", "BOARDS", "SPRAM_DEPTH", "register", "get_board", "board_names"]


@dataclass(frozen=True)
class Board:
    """One board.

    Attributes
    ----------
    name : str
        Name on the command line (``icebreaker``).
    platform : callable
        The amaranth-boards platform class (called with no arguments).
    device : str
        The FPGA's name in :data:`hwgen.flow.devices.DEVICES` (resources available).
    description : str
        One line for humans.
    depths : dict
        Words in the ``weights``, ``acts`` and ``results`` buffers of the board top.
    baud : int
        Default UART baud rate (an exact divider of the board clock is best).
    uart : str
        The platform's UART resource name.
    led : str or None
        An LED resource lit while the array runs (None: no LED).
    synth_opts : str
        Extra options of yosys ``synth_<family>`` (e.g. ``-dsp`` for the UP5K's multipliers).
    bitstream : str
        Bitstream file extension the platform build writes (``bin``, ``bit``).
    spram : int
        Single-port RAM blocks of 16384 × 16 bits (the UP5K's four SB_SPRAM256KA). When the
        weight and activation words fit them (one block per 16 bits of word), those two
        buffers are :data:`SPRAM_DEPTH` words deep and built in SPRAM (``synth_opts`` must
        have ``-spram``); otherwise both use block RAM at ``depths``.
    flash : tuple of str
        Commands that write a bitstream to the board (``{bitstream}`` stands for its path),
        the first one preferred; ``hwgen build`` prints them.
    result_fifo : int
        Rows of the array's result FIFO (:class:`~hwgen.arrays.systolic.SystolicArray`'s
        ``fifo_depth``; 4 is enough for full rate). A deeper one (17 and more) is built in
        block RAM instead of logic: on a board whose logic is the limit, that frees logic
        cells for one block RAM per 16 bits of result row.
    pe_pipeline : dict
        ``hwgen build --pe-pipeline auto``: PE accumulation kind (``rounded``, ``fused``) →
        ``(mul_latency, add_latency)``, the smallest PE pipeline measured (``hwgen build``,
        seed 1) to meet the board clock with a 2×2 ``e4m3:fp16:rounded`` array; larger
        arrays or formats may need more (the build still checks timing).
    """
    name: str
    platform: object
    device: str
    description: str
    depths: dict = field(default_factory=lambda: dict(weights=512, acts=512, results=256))
    baud: int = 1_000_000
    uart: str = "uart"
    led: object = "led"
    synth_opts: str = ""
    bitstream: str = "bin"
    spram: int = 0
    result_fifo: int = 4
    pe_pipeline: dict = field(default_factory=dict)
    flash: tuple = ()

    def spram_blocks(self, word_bits):
        """SPRAM blocks the weight and activation buffers of words of ``word_bits`` (a dict
        with ``weights`` and ``acts``) need."""
        return sum(-(-word_bits[k] // 16) for k in ("weights", "acts"))

    def auto_pe_pipeline(self, pe, dataflow="ws"):
        """``(mul_latency, add_latency)`` for ``hwgen build --pe-pipeline auto``: the board's
        :attr:`pe_pipeline` for a weight-stationary float PE of a kind it has one for, else
        ``(0, 0)`` (none was measured); for an output-stationary MX array, the accumulation
        pipeline planned for the board's oscillator clock. A PE that has no pipeline
        (integer, bit-serial, ..., exact float, output-stationary) is a ValueError: the
        option would be ignored."""
        from hwgen.pespec import parse_pe
        spec = parse_pe(pe)
        if spec.kind == "mx" and dataflow == "os":
            # MX arrays: the columns' accumulation pipeline the delay model gives the
            # oscillator's clock (their block path has no register: an unreachable clock
            # is a ValueError naming the best estimate)
            from hwgen.arrays.pipeline import plan_pe_pipeline
            plan = plan_pe_pipeline(spec, self.platform().default_clk_frequency / 1e6,
                                    self.device, dataflow)
            return plan.mul_latency, plan.add_latency
        if dataflow != "ws" or spec.kind != "float" or spec.accumulate not in ("rounded",
                                                                               "fused"):
            raise ValueError(f"--pe-pipeline auto pipelines the float PEs of weight-"
                             f"stationary arrays (F:ACC:rounded or F:ACC:fused); {spec.spec!r} "
                             f"({dataflow}) has no PE pipeline")
        return tuple(self.pe_pipeline.get(spec.accumulate, (0, 0)))

    def buffer_depths(self, word_bits):
        """Default buffer depths for words of ``word_bits``: SPRAM-deep weight and activation
        buffers when they fit the board's SPRAM, else :attr:`depths`."""
        if self.spram and self.spram_blocks(word_bits) <= self.spram:
            return dict(self.depths, weights=SPRAM_DEPTH, acts=SPRAM_DEPTH)
        return dict(self.depths)


#: Words in an SPRAM-built buffer (one SB_SPRAM256KA is 16384 × 16 bits).
SPRAM_DEPTH = 16384

BOARDS: dict = {}


def register(board):
    """Add ``board`` (a :class:`Board`) to :data:`BOARDS`; return it."""
    if board.name in BOARDS:
        raise ValueError(f"Board {board.name!r} is already registered")
    BOARDS[board.name] = board
    return board


def _discover():
    for info in pkgutil.iter_modules(__path__):
        if info.name != "top" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def board_names():
    return sorted(BOARDS)


def get_board(name):
    """The :class:`Board` called ``name``.

    Raises
    ------
    ValueError
        Unknown board; the message lists the allowed names.
    """
    if isinstance(name, Board):
        return name
    try:
        return BOARDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"Board must be one of {', '.join(board_names())}, not "
                         f"{name!r}") from None


_discover()
