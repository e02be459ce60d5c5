"""The golden model: what the answer is, bit for bit.

numpy only: nothing here imports Amaranth or cocotb. Every hardware unit in hwgen has its
golden model here, under the same name, and its cocotb test compares the RTL to it.
"""

from .rounding import (Raw, round_raw, unpack, decode, encode, bit_length, rounding_codes,
                       is_nan, is_inf, to_fraction, raw_from_float64)
from .ops import mul, add, sub, fma, exact_sum
from .fmac import mac, mac_stream, exact_acc_bits
from .imac import int_mac
from .requant import (quantize_multiplier, quantize_multipliers,
                      saturating_rounding_doubling_high_mul, rounding_divide_by_pot,
                      multiply_by_quantized_multiplier, activation_range, requantize)
from .bsmac import bit_planes, plane_scales, truncate, bitserial_dot, accumulate_groups
from .dpmac import dualprec_contrib, dualprec_mac, split_halves, pack_halves
from .tmac import ternary_encode, ternary_decode, ternary_dot, ternary_mac, quantize_ternary
from .p2mac import pow2_encode, pow2_decode, pow2_dot, pow2_mac, quantize_pow2
from .matmul import matmul, mac_step, tile_bits
from .tiling import Tiling, Tile
from . import compress
from .compress import (prune, kmeans_share, pq_quantize, huffman_lengths, CanonicalCode,
                       ham_encode, ham_decode, sham_encode, sham_decode, write_container,
                       read_container, psi, plain_ratio, spmv_csc)
from .mx import (MX_ELEMENTS, MX_BLOCK_SIZES, MX_SCALE_RULES, E8M0_BIAS, E8M0_NAN, e8m0_encode,
                 e8m0_decode, mx_element_encode, mx_element_decode, mx_elem_emax, mx_elem_max,
                 mx_block_sum_bits, mx_quantize, mx_dequantize, mx_dot, mx_matmul)

__all__ = ["Raw", "round_raw", "unpack", "decode", "encode", "bit_length", "rounding_codes",
           "is_nan", "is_inf", "to_fraction", "raw_from_float64",
           "mul", "add", "sub", "fma", "exact_sum", "mac", "mac_stream", "exact_acc_bits",
           "int_mac", "quantize_multiplier", "quantize_multipliers",
           "saturating_rounding_doubling_high_mul", "rounding_divide_by_pot",
           "multiply_by_quantized_multiplier", "activation_range", "requantize",
           "bit_planes", "plane_scales", "truncate", "bitserial_dot", "accumulate_groups",
           "dualprec_contrib", "dualprec_mac", "split_halves", "pack_halves",
           "ternary_encode", "ternary_decode", "ternary_dot", "ternary_mac", "quantize_ternary",
           "pow2_encode", "pow2_decode", "pow2_dot", "pow2_mac", "quantize_pow2",
           "matmul", "mac_step", "tile_bits", "Tiling", "Tile",
           "compress", "prune", "kmeans_share", "pq_quantize", "huffman_lengths",
           "CanonicalCode", "ham_encode", "ham_decode", "sham_encode", "sham_decode",
           "write_container", "read_container", "psi", "plain_ratio", "spmv_csc"]
__all__ += ["MX_ELEMENTS", "MX_BLOCK_SIZES", "MX_SCALE_RULES", "E8M0_BIAS", "E8M0_NAN",
            "e8m0_encode", "e8m0_decode", "mx_element_encode", "mx_element_decode",
            "mx_elem_emax", "mx_elem_max", "mx_block_sum_bits", "mx_quantize", "mx_dequantize",
            "mx_dot", "mx_matmul"]
