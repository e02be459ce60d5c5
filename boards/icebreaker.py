"""1BitSquared iCEBreaker: Lattice iCE40 UP5K (SG48), 12 MHz clock, FT2232H UART.

1 Mbaud is 12 MHz / 12 exactly. Buffers: 9 of the 30 block RAMs for a 2×2 int8 array.
"""

from amaranth_boards.icebreaker import ICEBreakerPlatform

from . import Board, register

__all__ = ["ICEBREAKER"]

ICEBREAKER = register(Board(
    name="icebreaker", platform=ICEBreakerPlatform, device="up5k",
    description="iCEBreaker (iCE40 UP5K SG48, 12 MHz)",
    depths=dict(weights=512, acts=512, results=256), baud=1_000_000,
    synth_opts="-dsp", bitstream="bin"))
