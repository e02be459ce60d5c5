"""The Verilog of a fixed set of designs, as SHA-256 digests: refactors must not change it.

``tests/test_verilog_manifest.py`` regenerates every design below and compares it with
``tests/data/verilog_manifest.json``. A change to the generated Verilog that is meant (a new
pipeline, lint fixes) is recorded by rerunning this script with ``--update``; the diff of the
manifest then shows exactly which designs changed, in the same commit.

Designs: every catalog unit through ``hwgen generate`` (defaults and a few variants), arrays of
every PE kind, the host-link core and the board tops of both boards (as amaranth-boards
prepares them).

    python bench/verilog_manifest.py            # compare, print changed designs, exit 1 if any
    python bench/verilog_manifest.py --update   # rewrite the manifest
"""

import argparse
import contextlib
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "tests" / "data" / "verilog_manifest.json"

#: name -> ``hwgen generate`` arguments (without -o).
GENERATE = {
    "fmul_e4m3": ["fmul", "--format", "e4m3"],
    "fmul_e4m3_fp16_dyn": ["fmul", "--format", "e4m3", "--out-format", "fp16",
                           "--rounding", "dynamic"],
    "fmul_bf16_l2": ["fmul", "--format", "bf16", "--latency", "2"],
    "fadd_fp16_dyn": ["fadd", "--format", "fp16", "--rounding", "dynamic"],
    "fadd_bf16_sub_l3": ["fadd", "--format", "bf16", "--subtract", "dynamic", "--latency", "3"],
    "ffma_e5m2": ["ffma", "--format", "e5m2"],
    "ffma_bf16_l2": ["ffma", "--format", "bf16", "--latency", "2", "--rounding", "dynamic"],
    "fmul_fp16_booth_l2": ["fmul", "--format", "fp16", "--product", "booth", "--latency", "2"],
    "ffma_bf16_booth_dyn": ["ffma", "--format", "bf16", "--product", "booth",
                            "--rounding", "dynamic"],
    "fmul_bf16_shiftadd": ["fmul", "--format", "bf16", "--product", "shiftadd"],
    "fmul_bf16_noflags_shiftadd": ["fmul", "--format", "bf16", "--no-flags", "--product",
                                   "shiftadd"],
    "fadd_fp16_noflags": ["fadd", "--format", "fp16", "--no-flags"],
    "ffma_bf16_noflags_booth_l2": ["ffma", "--format", "bf16", "--no-flags", "--product",
                                   "booth", "--latency", "2"],
    "fmac_rounded": ["fmac"],
    "fmac_fused": ["fmac", "--accumulate", "fused"],
    "fmac_exact": ["fmac", "--accumulate", "exact"],
    "imac": ["imac"],
    "imac_u4": ["imac", "--a-bits", "4", "--b-bits", "4", "--acc-bits", "16", "--unsigned"],
    "requant": ["requant"],
    "requant_pc": ["requant", "--per-channel", "4", "--unsigned"],
    "bsmac": ["bsmac"],
    "dpmac": ["dpmac"],
    "dpmac_split": ["dpmac", "--multiplier", "split"],
    "tmac": ["tmac"],
    "p2mac": ["p2mac"],
    "hdec": ["hdec"],
    "shamdec": ["shamdec"],
    "spmv": ["spmv"],
    "wload": ["wload"],
    "wload_ham": ["wload", "--format", "ham"],
    "mxdot_e4m3": ["mxdot"],
    "mxdot_e2m1_e5m2_l32_dyn": ["mxdot", "--elem", "e2m1", "--b-elem", "e5m2", "--lanes", "32",
                                "--rounding", "dynamic"],
    "mxdot_int8_l16": ["mxdot", "--elem", "int8", "--lanes", "16"],
    "array_ws_int8": ["array", "--rows", "2", "--cols", "2"],
    "array_os_int8": ["array", "--rows", "2", "--cols", "3", "--dataflow", "os"],
    "array_ws_int8_1x3": ["array", "--rows", "1", "--cols", "3"],
    "array_ws_e4m3_rounded_p": ["array", "--rows", "2", "--cols", "2", "--pe",
                                "e4m3:fp16:rounded", "--mul-latency", "1", "--add-latency", "2"],
    "array_os_e4m3_fused": ["array", "--rows", "2", "--cols", "2", "--pe", "e4m3:fp16:fused",
                            "--dataflow", "os"],
    "array_ws_e4m3_exact": ["array", "--rows", "2", "--cols", "2", "--pe", "e4m3:exact"],
    "array_ws_bs8x8": ["array", "--rows", "2", "--cols", "2", "--pe", "bs8x8"],
    "array_os_bs4x4": ["array", "--rows", "2", "--cols", "2", "--pe", "bs4x4", "--dataflow",
                       "os"],
    "array_ws_dp8": ["array", "--rows", "2", "--cols", "2", "--pe", "dp8"],
    "array_ws_ternary": ["array", "--rows", "2", "--cols", "2", "--pe", "ternary"],
    "array_os_mx_e4m3_e2m1": ["array", "--rows", "2", "--cols", "2", "--pe", "mx:e4m3:e2m1",
                              "--dataflow", "os"],
    "array_ws_e4m3_exact_credit": ["array", "--rows", "2", "--cols", "3", "--pe",
                                   "e4m3:exact", "--mul-latency", "1", "--add-latency", "1",
                                   "--flow", "credit"],
    "array_os_int8_credit": ["array", "--rows", "3", "--cols", "2", "--dataflow", "os",
                             "--flow", "credit"],
}


def _generate(argv, tmp):
    from hwgen.cli import main
    out = Path(tmp) / "design.v"
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(["generate", *argv, "-o", str(out)])
    if status:
        raise RuntimeError(f"hwgen generate {' '.join(argv)} exited {status}")
    return out.read_text()


def _core_verilog(**kw):
    from hwgen.export import to_verilog
    from hwgen.host_link import HostLinkCore
    return to_verilog(HostLinkCore(2, 2, "int8", "ws", divisor=12, clk_hz=12_000_000,
                                   **kw))[1]


def _board_files(board, **kw):
    """The files amaranth-boards prepares for a board top (RTLIL/Verilog, constraints)."""
    from boards import get_board
    from boards.top import BoardTop
    from hwgen.flow.tools import setup_environment
    setup_environment()
    b = get_board(board)
    top = BoardTop(board, 2, 2, "int8", "ws", **kw)
    plan = b.platform().prepare(top, name="top", emit_src=False)
    return "".join(f"// ---- {name}\n{text if isinstance(text, str) else text.decode()}"
                   for name, text in sorted(plan.files.items()) if not name.endswith(".sh")
                   and not name.endswith(".bat"))


def designs():
    """name -> callable returning the design's text."""
    d = {name: (lambda argv=argv: _with_tmp(argv)) for name, argv in GENERATE.items()}
    d["host_link_core_ws_2x2_int8"] = _core_verilog
    d["host_link_core_ws_2x2_int8_network"] = lambda: _core_verilog(network=True)
    d["board_icebreaker_ws_2x2_int8"] = lambda: _board_files("icebreaker")
    d["board_ulx3s_ws_2x2_int8"] = lambda: _board_files("ulx3s-85f")
    return d


def _with_tmp(argv):
    with tempfile.TemporaryDirectory() as tmp:
        return _generate(argv, tmp)


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def compute(names=None):
    return {name: digest(make()) for name, make in designs().items()
            if names is None or name in names}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--update", action="store_true", help="rewrite the manifest")
    args = ap.parse_args(argv)
    now = compute()
    if args.update:
        MANIFEST.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"wrote {MANIFEST.relative_to(ROOT)}: {len(now)} designs")
        return 0
    old = json.loads(MANIFEST.read_text())
    changed = sorted(k for k in set(old) | set(now) if old.get(k) != now.get(k))
    for k in changed:
        print(f"changed: {k}")
    print(f"{len(now)} designs, {len(changed)} changed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
