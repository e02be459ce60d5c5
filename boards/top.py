"""The board top-level: :class:`~hwgen.host_link.HostLinkCore` on a board's clock and UART.

The ``sync`` domain is the platform's default clock (amaranth creates it, with the platform's
power-on reset), or, with ``clock_mhz``, the output of the board's PLL (:mod:`boards.pll`:
``SB_PLL40_PAD`` on the iCEBreaker, ``EHXPLLL`` on the ULX3S) fed by that clock's pin, held
in reset until the PLL locks. The UART divider comes from the domain's clock and the baud
rate.
"""

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

from hwgen.arrayspec import ArraySpec
from hwgen.elaboratables import not_built, refused_quietly
from hwgen.host_link import DEFAULT_MAX_PAYLOAD, HostLinkCore
from hwgen.host_link.protocol import buffer_word_bits, divisor_for

from . import get_board

__all__ = ["BoardTop", "uart_pll_at_most"]


class BoardTop(Elaboratable):
    """The accelerator on ``board``.

    Parameters
    ----------
    board : str or Board
        A name from :data:`boards.BOARDS`.
    rows, cols, pe, dataflow :
        The systolic array.
    baud : int or None
        UART baud rate (default: the board's).
    depths : dict or None
        Buffer depths (default: :meth:`boards.Board.buffer_depths`: SPRAM-deep weight and
        activation buffers where the board has SPRAM and the words fit it).
    timeout_s : float
        Inter-byte timeout inside a frame, seconds.
    mul_latency, add_latency : int
        The array's PE pipeline (weight-stationary float PEs; see
        :class:`~hwgen.arrays.systolic.SystolicArray`).
    clock_mhz : float or None
        Run the accelerator from the board's PLL at the frequency closest to this that the
        PLL makes (:func:`boards.pll.platform_pll`); ``None``: the oscillator's clock.
    network : bool
        Add the host link's network extension (protocol version 2: whole integer networks
        chained on chip; :class:`~hwgen.host_link.network.NetSequencer`).

    Attributes
    ----------
    clk_hz : float
        The accelerator's clock (the PLL's output when there is one).
    oscillator_hz : float
        The board oscillator's.
    pll : boards.pll.PLLConfig or None

    Raises
    ------
    ValueError
        Unknown board, a bad array parameter, a clock the PLL cannot make (the message gives
        its range), or a baud rate the clock cannot make.
    """

    def __init__(self, board, rows, cols, pe="int8", dataflow="ws", *, baud=None,
                 depths=None, max_payload=DEFAULT_MAX_PAYLOAD, timeout_s=0.05, mul_latency=0,
                 add_latency=0, clock_mhz=None, network=False, flow="stall"):
        with refused_quietly(self):
            self._init(board, rows, cols, pe, dataflow, baud, depths, max_payload, timeout_s,
                       mul_latency, add_latency, clock_mhz, network, flow)

    def _init(self, board, rows, cols, pe, dataflow, baud, depths, max_payload, timeout_s,
              mul_latency, add_latency, clock_mhz, network, flow):
        # Plain parameters first (a bad one raises before any component is built): the
        # default depths depend only on the array's word sizes.
        self.board = get_board(board)
        self.baud = int(baud or self.board.baud)
        self.oscillator_hz = _default_clk_hz(self.board.platform)
        self.pll = None
        if clock_mhz is not None:
            from .pll import platform_pll
            self.pll = platform_pll(self.board.platform, clock_mhz)
        self.clk_hz = self.pll.output_hz if self.pll is not None else self.oscillator_hz
        self.divisor = divisor_for(self.clk_hz, self.baud)
        spec = ArraySpec(rows, cols, pe, dataflow, mul_latency, add_latency)
        if depths is None:
            depths = self.board.buffer_depths(buffer_word_bits(spec))
        depths = depths or self.board.depths
        self.core = HostLinkCore(rows, cols, pe, dataflow, divisor=self.divisor,
                                 clk_hz=int(self.clk_hz), depths=depths,
                                 max_payload=max_payload,
                                 timeout_cycles=max(int(self.clk_hz * timeout_s),
                                                    20 * self.divisor),
                                 mul_latency=mul_latency, add_latency=add_latency,
                                 network=network, fifo_depth=self.board.result_fifo,
                                 flow=flow)

    def unbuilt(self):
        """Mark this top, its core and array as never to be elaborated (they were made for
        their parameters or checks only: no "created but never used" warning); return it."""
        return not_built(self, self.core, self.core.array)

    @property
    def spram_memories(self):
        """The memories that may be single-port RAM (:attr:`HostLinkCore.spram_memories`),
        as ``(path, name)`` below this top: the path of the module holding each (a tuple of
        submodule names) and its name there."""
        return tuple((("core",) + path, name) for path, name in self.core.spram_memories)

    @property
    def module_name(self):
        clock = ""
        if self.pll is not None:   # the PLL's output, e.g. _pll50p25 for 50.25 MHz
            clock = f"_pll{self.pll.output_mhz:.6g}".replace(".", "p")
        return f"{self.board.name.replace('-', '_')}_{self.core.module_name}{clock}"

    def elaborate(self, platform):
        m = Module()
        if self.pll is not None:
            from .pll import add_pll
            clk = platform.request(platform.default_clk, 0, dir="-")
            add_pll(m, self.pll, clk)          # defines sync: the platform adds none
        m.submodules.core = core = self.core
        uart = platform.request(self.board.uart, 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [core.rx.eq(rx.i), tx.o.eq(core.tx)]
        if self.board.led is not None:
            led = platform.request(self.board.led, 0, dir="-")
            m.submodules.led = led_buf = io.Buffer("o", led)
            m.d.comb += led_buf.o.eq(core.busy)
        return m


def uart_pll_at_most(family, osc_mhz, limit_mhz, baud):
    """The highest output (MHz) of the ``family`` PLL fed ``osc_mhz`` that is not above
    ``limit_mhz`` and at which the UART makes ``baud`` (:func:`divisor_for`): what a clock
    search may try. Raises ValueError when there is none down to the PLL's lowest output."""
    from .pll import pll_at_most
    while True:
        mhz = pll_at_most(family, osc_mhz, limit_mhz).output_mhz
        try:
            divisor_for(mhz * 1e6, baud)
            return mhz
        except ValueError:
            limit_mhz = mhz * (1 - 1e-9)


def _default_clk_hz(platform_cls):
    """The default clock frequency of an amaranth-boards platform class (no instance: the
    ULX3S platforms look for openFPGALoader when instantiated)."""
    for res in platform_cls.resources:
        if res.name == platform_cls.default_clk and res.number == 0:
            return float(res.clock.frequency)
    raise ValueError(f"{platform_cls.__name__} has no default clock resource")
