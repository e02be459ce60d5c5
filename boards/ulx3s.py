"""Radiona ULX3S 85F: Lattice ECP5 LFE5U-85F (CABGA381), 25 MHz clock, FT231X UART.

1 Mbaud is 25 MHz / 25 exactly. The amaranth-boards platform insists on ``openFPGALoader``
being present even when not programming; :func:`hwgen.flow.tools.tool_env` supplies a
stand-in.
"""

from amaranth_boards.ulx3s import ULX3S_85F_Platform

from . import Board, register

__all__ = ["ULX3S_85F"]

ULX3S_85F = register(Board(
    name="ulx3s-85f", platform=ULX3S_85F_Platform, device="ecp5-85f",
    description="ULX3S 85F (ECP5 LFE5U-85F CABGA381, 25 MHz)",
    depths=dict(weights=2048, acts=2048, results=1024), baud=1_000_000,
    bitstream="bit",
    # 2×2 e4m3:fp16:rounded, hwgen build seed 1, Fmax in MHz by (mul, add) latency
    # (2026-11-23): (0, 0) 19.6, (0, 1) 23.5, (1, 0) 28.0; earlier float adder: (1, 0) 25.7
    # (seed 2: 25.6), (1, 1) 32.4.
    pe_pipeline=dict(rounded=(1, 0)),
    flash=("openFPGALoader -b ulx3s {bitstream}", "fujprog {bitstream}")))
