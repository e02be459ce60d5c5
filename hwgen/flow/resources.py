"""What a mapped design uses of a device: yosys cell types → resource kinds, and the fit check.

The kinds are the same everywhere in the flow and its reports: ``lut`` (LUT4), ``ff``,
``carry`` (``SB_CARRY`` on iCE40, ``CCU2C`` on ECP5: each holds two LUT4s there), ``dsp``,
``bram``, ``spram``, ``lutram``.
"""

from .devices import get_device
from .errors import DoesNotFit, FlowError

__all__ = ["cell_counts", "check_fit", "module_cells", "design_counts", "KIND_LABEL"]

#: How a report names each resource kind.
KIND_LABEL = dict(lut="LUT4", ff="FF", carry="carry", dsp="DSP", bram="BRAM", spram="SPRAM",
                  io="I/O")


def cell_counts(cells, family):
    """Map yosys cell types (after ``synth_ice40``/``synth_ecp5``) to resource kinds."""
    out = dict(lut=0, ff=0, carry=0, dsp=0, bram=0, spram=0, lutram=0)
    for cell, n in cells.items():
        cell = cell.lstrip("\\$")
        if family == "ice40":
            if cell == "SB_LUT4":
                out["lut"] += n
            elif cell.startswith("SB_DFF"):
                out["ff"] += n
            elif cell == "SB_CARRY":
                out["carry"] += n
            elif cell == "SB_MAC16":
                out["dsp"] += n
            elif cell.startswith("SB_RAM40"):
                out["bram"] += n
            elif cell == "SB_SPRAM256KA":
                out["spram"] += n
        else:
            if cell == "LUT4":
                out["lut"] += n
            elif cell in ("TRELLIS_FF",) or cell.startswith("FD1"):
                out["ff"] += n
            elif cell == "CCU2C":
                out["carry"] += n
            elif cell == "MULT18X18D":
                out["dsp"] += n
            elif cell == "DP16KD":
                out["bram"] += n
            elif cell == "TRELLIS_DPR16X4":
                out["lutram"] += n
    return out


def check_fit(counts, device):
    """Raise :class:`DoesNotFit` if the mapped ``counts`` need more than ``device`` has.

    ``counts`` are :func:`cell_counts` of the whole design. On iCE40 a logic cell holds one
    LUT4 and one FF; on ECP5 a ``CCU2C`` carry holds two LUT4 slots.
    """
    device = get_device(device)
    avail = device.resources
    luts = counts["lut"] + (2 * counts["carry"] if device.family == "ecp5" else 0)
    needs = dict(lut=luts, ff=counts["ff"], dsp=counts["dsp"], bram=counts["bram"],
                 spram=counts.get("spram", 0))
    for kind, need in needs.items():
        if need > avail.get(kind, 0):
            raise DoesNotFit(f"Design does not fit {device.name}: needs {need} "
                             f"{KIND_LABEL[kind]}, the device has {avail.get(kind, 0)}")


def design_counts(stat, family):
    """:func:`cell_counts` of the whole design in yosys's ``stat -json`` output (a dict)."""
    cells = (stat.get("design") or {}).get("num_cells_by_type")
    if cells is None:
        mods = stat.get("modules", {})
        cells = next(iter(mods.values()), {}).get("num_cells_by_type", {}) if mods else {}
    return cell_counts(cells, family)


def module_cells(stat, name):
    """Cell counts by type of module ``name`` in yosys's ``stat -json`` output (a dict)."""
    modules = stat.get("modules", {})
    for key in (f"\\{name}", name):
        if key in modules:
            return dict(modules[key].get("num_cells_by_type", {}))
    raise FlowError(f"yosys stat has no module {name!r}")


def main(argv=None):
    """``python -m hwgen.flow.resources STAT.json DEVICE``: exit 3 with the reason on stderr
    when the mapped design of yosys's ``stat -json`` output cannot fit ``DEVICE`` (a build
    script runs it between yosys and nextpnr, so a design that cannot fit stops in seconds,
    before place-and-route)."""
    import json
    import sys
    stat_file, device = sys.argv[1:3] if argv is None else argv
    dev = get_device(device)
    with open(stat_file) as f:
        counts = design_counts(json.load(f), dev.family)
    try:
        check_fit(counts, dev)
    except DoesNotFit as e:
        print(f"hwgen: {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
