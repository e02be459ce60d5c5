"""Architecture strings of ``hwgen train --arch SPEC`` (no PyTorch here).

``SPEC`` is the hidden part of the network, items joined by ``-``; the input comes from the
data and a final dense layer to the classes is always added:

``N``
    a dense layer of ``N`` outputs, then ReLU;
``cKxC``
    a ``K`` x ``K`` convolution with ``C`` output channels (stride 1, no padding), then
    ReLU: image inputs only (digits are 1 x 8 x 8);
``pP``
    ``P`` x ``P`` max pooling, stride ``P`` (the height and width must be divisible by it);
``linear``
    no hidden layer at all (alone).

So ``32`` is the MLP 64-32-10 on digits, ``64-32`` the MLP 64-64-32-10, and ``c3x8-p2`` the
CNN conv3x3x8-relu-maxpool2-dense10 of the built-in ``cnn-digits``.
"""

import re
from dataclasses import dataclass

__all__ = ["Arch", "parse_arch", "widened"]

_MAX_UNITS = 4096


@dataclass(frozen=True)
class Arch:
    """A parsed ``SPEC``: ``items`` are ``("dense", n)``, ``("conv", k, c)`` and
    ``("pool", p)``; ``spec`` is the text."""
    spec: str
    items: tuple

    @property
    def convolutional(self):
        return any(it[0] == "conv" for it in self.items)

    def shapes(self, input_shape, classes):
        """The layer plan on ``input_shape``: ``[(item, in_shape, out_shape), ...]`` with the
        final ``("dense", classes)`` item; a ``("flatten",)`` item wherever a dense layer
        follows an image.

        Raises
        ------
        ValueError
            A convolution on a vector input, a kernel larger than the image, a pool that
            does not divide it.
        """
        shape = tuple(input_shape)
        plan = []
        for it in self.items + (("dense", classes),):
            if it[0] == "dense":
                if len(shape) == 3:
                    flat = (shape[0] * shape[1] * shape[2],)
                    plan.append((("flatten",), shape, flat))
                    shape = flat
                out = (it[1],)
            elif len(shape) != 3:
                raise ValueError(f"Architecture {self.spec!r}: {_name(it)} needs an image "
                                 f"input (C x H x W), not a vector of {shape[0]} features")
            elif it[0] == "conv":
                k = it[1]
                if k > shape[1] or k > shape[2]:
                    raise ValueError(f"Architecture {self.spec!r}: a {k}x{k} convolution on "
                                     f"a {shape[1]}x{shape[2]} image")
                out = (it[2], shape[1] - k + 1, shape[2] - k + 1)
            else:
                p = it[1]
                if shape[1] % p or shape[2] % p:
                    raise ValueError(f"Architecture {self.spec!r}: p{p} needs a height and "
                                     f"width divisible by {p}, not {shape[1]}x{shape[2]}")
                out = (shape[0], shape[1] // p, shape[2] // p)
            plan.append((it, shape, out))
            shape = out
        return plan


def _name(it):
    return {"conv": lambda: f"c{it[1]}x{it[2]}", "pool": lambda: f"p{it[1]}",
            "dense": lambda: str(it[1])}[it[0]]()


def parse_arch(spec):
    """The :class:`Arch` of ``spec``.

    Raises
    ------
    ValueError
        ``spec`` does not parse: one line naming it and the grammar.
    """
    text = str(spec).strip().lower()
    grammar = ("items N (dense), cKxC (KxK convolution, C channels), pP (PxP max pool) joined "
               "by '-', e.g. 32, 64-32, c3x8-p2; or linear")
    if text == "linear":
        return Arch("linear", ())
    items = []
    for tok in text.split("-") if text else [""]:
        if m := re.fullmatch(r"(\d+)", tok):
            it = ("dense", int(m[1]))
        elif m := re.fullmatch(r"c(\d+)x(\d+)", tok):
            it = ("conv", int(m[1]), int(m[2]))
        elif m := re.fullmatch(r"p(\d+)", tok):
            it = ("pool", int(m[1]))
        else:
            raise ValueError(f"Architecture must be {grammar}; {spec!r} is not")
        if not all(1 <= v <= _MAX_UNITS for v in it[1:]) or (it[0] == "pool" and it[1] < 2):
            raise ValueError(f"Architecture {spec!r}: {tok!r} needs sizes in 1..{_MAX_UNITS} "
                             f"(a pool at least 2)")
        items.append(it)
    return Arch(text, tuple(items))


def widened(arch, factor):
    """``arch`` with every dense width and convolution channel count times ``factor``."""
    items = tuple(("dense", it[1] * factor) if it[0] == "dense" else
                  ("conv", it[1], it[2] * factor) if it[0] == "conv" else it
                  for it in arch.items)
    return Arch("-".join(_name(it) for it in items) or "linear", items)
