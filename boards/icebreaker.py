"""1BitSquared iCEBreaker: Lattice iCE40 UP5K (SG48), 12 MHz clock, FT2232H UART.

1 Mbaud is 12 MHz / 12 exactly. Buffers: weights and activations in the four 16384 × 16-bit
SPRAMs when their words fit (16384 words each: up to 4 × 4 int8/e4m3), else 512 words of block
RAM; results (256 words), the frame staging buffer, the array's result FIFO (17 rows: in
block RAM, which frees ~50 of the UP5K's 5,280 logic cells) and the rest in block RAM.
"""

from amaranth_boards.icebreaker import ICEBreakerPlatform

from . import Board, register

__all__ = ["ICEBREAKER"]

ICEBREAKER = register(Board(
    name="icebreaker", platform=ICEBreakerPlatform, device="up5k",
    description="iCEBreaker (iCE40 UP5K SG48, 12 MHz)",
    depths=dict(weights=512, acts=512, results=256), baud=1_000_000,
    synth_opts="-dsp -spram", bitstream="bin", spram=4, result_fifo=17,
    # 2×2 e4m3:fp16:rounded, hwgen build seed 1, Fmax in MHz by (mul, add) latency
    # (2026-11-23): (0, 0) 6.5, (1, 1) 11.5, (2, 1) 11.8, (1, 2) 15.2 (seed 2: 15.1); earlier
    # float adder: (0, 2) 8.4, (0, 3) 8.6, (2, 2) 13.3, (3, 2) 15.4.
    pe_pipeline=dict(rounded=(1, 2)),
    flash=("openFPGALoader -b icebreaker {bitstream}", "iceprog {bitstream}")))
