"""Compile Verilator's run-time library once, not once per design.

Every Verilated model links the same run-time objects (``verilated.o``, ``verilated_vpi.o``,
``verilated_dpi.o``, ``verilated_threads.o``; measured here: ~20 s of g++ at verilated.mk's
``-Os``, more than the model itself at ``-O0``). Their compile commands depend only on the
Verilator installation and the model-wide switches (tracing, timing, coverage), never on the
design, so the runner keeps one copy per exact set of compile commands and seeds each new
build folder with it, between the ``verilator`` step and ``make``.

Correctness follows make's own rules: the cache key is the text of the compile commands that
``make`` would run (``make -B -n``), plus the compiler's version; a cached object is used only
if every file its ``.d`` dependency list names still exists and is older than the object. A
build whose objects were not seeded stores its freshly compiled ones afterwards.
"""

import hashlib
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_root", "global_objects", "cache_key", "seed", "store",
           "cached_runtime"]

#: The environment variable naming a run-time object cache shared by every build folder (the
#: objects depend on the installation, not on the project: one cache serves them all).
CACHE_ENV = "HWGEN_VERILATOR_CACHE"


def _make(build_dir, make_vars, *goals, env=None, always=False):
    # --no-print-directory: under an outer make (``make test``) a sub-make would otherwise
    # print "Entering directory <this build folder>" into the key.
    cmd = ["make", "--no-print-directory", "-s" if not always else "-n", "-f", "Vtop.mk",
           *make_vars, *goals]
    if always:
        cmd.insert(1, "-B")
    out = subprocess.run(cmd, cwd=build_dir, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return "\n".join(line for line in out.stdout.splitlines()
                     if not line.startswith("make"))


def global_objects(build_dir, make_vars=(), env=None):
    """The run-time library objects (``VM_GLOBAL_FAST``/``_SLOW``) of the model's makefile."""
    text = _make(build_dir, make_vars, "debug-make", env=env)
    if text is None:
        return []
    objs = []
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VM_GLOBAL_FAST", "VM_GLOBAL_SLOW"):
            objs += [f"{v}.o" for v in value.split()]
    return objs


def cache_key(build_dir, make_vars, objects, env=None):
    """SHA-256 of the exact compile commands of ``objects`` and of the compiler's version."""
    commands = _make(build_dir, make_vars, *objects, env=env, always=True)
    if commands is None:
        return None
    compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout
    return hashlib.sha256((commands + "\0" + compiler).encode()).hexdigest()[:24]


def _dependencies(dfile):
    """The prerequisites named in a gcc ``-MMD`` dependency file."""
    text = dfile.read_text().replace("\\\n", " ")
    _, _, deps = text.partition(":")
    return deps.split()


def _usable(obj, dfile):
    if not (obj.exists() and dfile.exists()):
        return False
    built = obj.stat().st_mtime_ns
    for dep in _dependencies(dfile):
        path = Path(dep)
        if not path.is_absolute():      # a file of the design: not shareable
            return False
        try:
            if path.stat().st_mtime_ns >= built:
                return False
        except OSError:
            return False
    return True


def seed(build_dir, cache_dir, objects):
    """Copy cached ``objects`` (and their ``.d`` files) into ``build_dir``; return the names
    seeded. Objects already built there are left alone."""
    build_dir, cache_dir = Path(build_dir), Path(cache_dir)
    seeded = []
    for name in objects:
        target = build_dir / name
        if target.exists():
            continue
        obj, dfile = cache_dir / name, (cache_dir / name).with_suffix(".d")
        if not _usable(obj, dfile):
            continue
        shutil.copy2(dfile, target.with_suffix(".d"))
        tmp = target.with_name(f".{name}.{os.getpid()}")
        shutil.copy2(obj, tmp)
        os.utime(tmp)       # newer than the makefile verilator has just written
        os.replace(tmp, target)
        seeded.append(name)
    return seeded


def store(build_dir, cache_dir, objects):
    """Keep ``build_dir``'s compiled ``objects`` in ``cache_dir`` (atomically, file by file)."""
    build_dir, cache_dir = Path(build_dir), Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name in objects:
        obj = build_dir / name
        dfile = obj.with_suffix(".d")
        if (cache_dir / name).exists() or not _usable(obj, dfile):
            continue
        for src in (dfile, obj):        # the object last: it marks the entry complete
            tmp = cache_dir / f".{src.name}.{os.getpid()}"
            shutil.copy2(src, tmp)
            os.replace(tmp, cache_dir / src.name)


def cache_root():
    """The folder of the run-time object cache: ``$HWGEN_VERILATOR_CACHE`` when that is set
    (say, one folder for every project on a machine), else ``verilated-runtime/`` of the
    simulator build folder (:func:`hwgen.flow.verilator.build_root`)."""
    shared = os.environ.get(CACHE_ENV)
    if shared:
        return Path(shared).resolve()
    from .verilator import build_root
    return build_root() / "verilated-runtime"


@contextmanager
def cached_runtime(build_dir, make_vars=(), env=None):
    """Around the ``make`` of a Verilated model in ``build_dir`` (``make_vars``: the
    variables given to it): seed the run-time objects from the cache before, keep freshly
    compiled ones after. The cache is ``<key>`` of :func:`cache_root`; without a key
    nothing is cached."""
    build_dir = Path(build_dir)
    objects = global_objects(build_dir, make_vars, env=env)
    key = objects and cache_key(build_dir, make_vars, objects, env=env)
    cache = cache_root() / key if key else None
    if cache is not None:
        seed(build_dir, cache, objects)
    yield
    if cache is not None:
        store(build_dir, cache, objects)
