"""The golden model: what the answer is, bit for bit.

numpy only: nothing here imports Amaranth or cocotb. Every hardware unit in hwgen has its
golden model here, under the same name, and its cocotb test compares the RTL to it.
"""

from .rounding import (Raw, round_raw, unpack, decode, encode, bit_length, rounding_codes,
                       is_nan, is_inf, to_fraction, raw_from_float64)
from .ops import mul, add, sub, fma, exact_sum
from .mac import mac, mac_stream, exact_acc_bits

__all__ = ["Raw", "round_raw", "unpack", "decode", "encode", "bit_length", "rounding_codes",
           "is_nan", "is_inf", "to_fraction", "raw_from_float64",
           "mul", "add", "sub", "fma", "exact_sum", "mac", "mac_stream", "exact_acc_bits"]
