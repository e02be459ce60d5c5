"""The training methods of ``hwgen train`` (PyTorch: the ``train`` extra).

Each method trains on :class:`~hwgen.train.data.TrainData`, returns a report (a dict of plain
numbers and lists, what ``hwgen train`` prints and ``--json`` writes) and the deployable model
(:class:`~hwgen.explore.graph.Model`, written as ONNX or ``.npz``). Baselines are trained in
the same run from the same seed, so every comparison is side by side.

``plain``
    Cross-entropy, Adam.
``compressibility`` (Aytekin et al.)
    Cross-entropy plus ``lam * sum_l ||w_l||_1 / ||w_l||_2`` over the weight layers (the ratio
    is smallest for sparse, equal-magnitude weights: its critical points are ternary
    ``{-c, 0, +c}``). Afterwards every weight matrix is ternarized by the ternary PE's host
    quantizer (:func:`hwgen.golden.tmac.quantize_ternary`, one scale per layer) and the model
    holds ``scale * t``. Reported for it and for the same network trained without the loss and
    ternarized after the fact: the ternarization error ``||w - s t||^2 / ||w||^2`` (0 for
    weights already ternary: the measure of "closer to ternary"), the sparsity of ``t``, the
    accuracy before and after ternarization, and the sHAM compression ratio psi of the
    ternarized matrices (:func:`hwgen.compress.compress_matrices`, 32-bit words).
``wide-narrow`` (Zhou et al.)
    Train the wide network (every hidden width times ``wide_factor``); then each hidden layer
    of the thin network in turn learns to reproduce the wide network's activation at the same
    depth through a learned linear projection (thin width to wide width; mean squared error,
    the earlier thin layers fixed); then the whole thin network is fine-tuned. Compared with
    the thin network trained directly for as many epochs as all three phases together.
    Dense hidden layers only.
``dualprec`` (Park et al.)
    One set of ``high_bits``-bit weights (per-layer symmetric scale), two modes: high uses
    them, low their MSB halves as the nested ``dpH`` PE computes them (``(q >> L) << L``,
    ``L = H / 2``, the scale kept; :mod:`hwgen.golden.dpmac`), both with straight-through
    gradients. Phase 1 trains high mode; phase 2 the sum of both modes' losses. Compared with
    a model trained for high mode only (evaluated in both modes) and one trained for low mode
    only. Activations stay in float64 (the weights are what the mode changes).
``bitlayers`` (PrecisionBatching)
    No training of its own: the plain model's accuracy through the bit-serial golden model
    (:func:`hwgen.explore.emulate.forward` with ``bsWxA@B``: the weights' top ``B``
    bit-planes), for ``B = 1 .. W``.
"""

import time

import numpy as np

from .arch import widened
from .nets import accuracy_of, build_net, fit, set_weights, to_model, torch, weight_layers

__all__ = ["train_plain", "train_compressibility", "train_wide_narrow",
           "train_dualprec", "bitlayer_curve", "ternarize", "psi_of"]

def _mats(net):
    return [m.weight.detach().numpy().copy() for m in weight_layers(net)]


def train_plain(data, arch, *, epochs, seed, lr=0.01):
    """``(net, report)``: cross-entropy training."""
    net = build_net(arch, data.input_shape, data.classes, seed)
    t0 = time.monotonic()
    loss = fit(net, data.x_train, data.y_train, epochs=epochs, seed=seed, lr=lr)
    return net, dict(accuracy=accuracy_of(net, data.x_test, data.y_test), loss=loss,
                     epochs=epochs, seconds=round(time.monotonic() - t0, 2))


# -- compressibility ------------------------------------------------------------------------------

def compressibility_penalty(net):
    """``sum_l ||w_l||_1 / ||w_l||_2`` over the weight layers (a torch scalar)."""
    return sum(m.weight.abs().sum() / m.weight.norm() for m in weight_layers(net))


def ternarize(mats):
    """``[(t, scale), ...]`` of each weight matrix (a convolution's as ``(out, in*kh*kw)``):
    :func:`hwgen.golden.tmac.quantize_ternary` with one scale per output (``axis=1``), what
    the host applies to a ternary array's output column."""
    from ..golden.tmac import quantize_ternary
    return [quantize_ternary(np.asarray(w, dtype=np.float64).reshape(len(w), -1), axis=1)[:2]
            for w in mats]


def psi_of(mats):
    """sHAM compression ratio psi (a float) of ``mats`` together (2-D views)."""
    from ..compress import compress_matrices, total_psi
    flat = [(f"w{i}", np.asarray(w, dtype=np.float32).reshape(w.shape[0], -1))
            for i, w in enumerate(mats)]
    return float(total_psi(compress_matrices(flat, 0, (None, None), "sham")))


def _ternary_report(net, data):
    mats = _mats(net)
    tern = ternarize(mats)
    deployed = [(s * t).reshape(w.shape) for w, (t, s) in zip(mats, tern)]
    err = sum(float(np.sum((w - d) ** 2)) for w, d in zip(mats, deployed)) / \
        sum(float(np.sum(w ** 2)) for w in mats)
    before = accuracy_of(net, data.x_test, data.y_test)
    set_weights(net, deployed)
    after = accuracy_of(net, data.x_test, data.y_test)
    zeros = sum(int(np.sum(t == 0)) for t, _ in tern)
    return dict(accuracy_float=before, accuracy_ternary=after, ternary_error=err,
                sparsity=zeros / sum(t.size for t, _ in tern), psi=psi_of(deployed))


def train_compressibility(data, arch, *, epochs, seed, lam, lr=0.01):
    """``(net, report)``: the net holds the ternarized weights; the report has ``trained``
    (with the loss) and ``baseline`` (without), each as :func:`_ternary_report` gives."""
    t0 = time.monotonic()
    net = build_net(arch, data.input_shape, data.classes, seed)
    fit(net, data.x_train, data.y_train, epochs=epochs, seed=seed, lr=lr,
        extra_loss=lambda n: lam * compressibility_penalty(n))
    trained = _ternary_report(net, data)
    base, _ = train_plain(data, arch, epochs=epochs, seed=seed, lr=lr)
    baseline = _ternary_report(base, data)
    return net, dict(lam=lam, epochs=epochs, trained=trained, baseline=baseline,
                     seconds=round(time.monotonic() - t0, 2))


# -- go wide, then narrow -------------------------------------------------------------------------

def train_wide_narrow(data, arch, *, epochs, seed, wide_factor=4, imitation_epochs=None,
                      lr=0.01):
    """``(thin net, report)``: wide training (``epochs``), layer-wise imitation
    (``imitation_epochs`` per hidden layer, default ``epochs // 2``), fine-tuning
    (``epochs``); the baseline is the thin net trained directly for the sum."""
    t = torch()
    nn = t.nn
    if arch.convolutional or any(it[0] == "pool" for it in arch.items) or not arch.items:
        raise ValueError(f"wide-narrow needs dense hidden layers only (e.g. 32 or 64-32), not "
                         f"{arch.spec!r}")
    imitation_epochs = max(1, epochs // 2) if imitation_epochs is None else imitation_epochs
    t0 = time.monotonic()
    wide_arch = widened(arch, wide_factor)
    wide = build_net(wide_arch, data.input_shape, data.classes, seed)
    fit(wide, data.x_train, data.y_train, epochs=epochs, seed=seed, lr=lr)
    thin = build_net(arch, data.input_shape, data.classes, seed + 1)
    # dense layers only (checked above): the hidden ones, then the output layer
    w_lin, t_lin = weight_layers(wide), weight_layers(thin)
    x = t.as_tensor(np.asarray(data.x_train, dtype=np.float64))
    with t.no_grad():
        targets, h = [], x
        for lin in w_lin[:-1]:
            h = t.relu(lin(h))
            targets.append(h)
    h_thin = x
    for depth, lin in enumerate(t_lin[:-1]):
        proj = nn.Linear(lin.out_features, w_lin[depth].out_features).double()
        inp, target = h_thin.detach(), targets[depth]

        def loss_fn(_net, xb, yb, lin=lin, proj=proj):
            return nn.functional.mse_loss(proj(t.relu(lin(xb))), yb)
        fit(None, inp.numpy(), target.numpy(), epochs=imitation_epochs, seed=seed + depth,
            lr=lr, loss_fn=loss_fn, params=list(lin.parameters()) + list(proj.parameters()))
        with t.no_grad():
            h_thin = t.relu(lin(h_thin))
    imitated = accuracy_of(thin, data.x_test, data.y_test)
    fit(thin, data.x_train, data.y_train, epochs=epochs, seed=seed, lr=lr)
    total = 2 * epochs + imitation_epochs * (len(t_lin) - 1)
    direct, _ = train_plain(data, arch, epochs=total, seed=seed + 1, lr=lr)
    return thin, dict(wide_arch=wide_arch.spec, wide_accuracy=accuracy_of(wide, data.x_test,
                                                                          data.y_test),
                      imitation_accuracy=imitated,
                      accuracy=accuracy_of(thin, data.x_test, data.y_test),
                      direct_accuracy=accuracy_of(direct, data.x_test, data.y_test),
                      epochs=dict(wide=epochs, imitation_per_layer=imitation_epochs,
                                  fine_tune=epochs, direct=total),
                      seconds=round(time.monotonic() - t0, 2))


# -- dual precision -------------------------------------------------------------------------------

def quantize_modes(w, high_bits):
    """``(q_high, q_low, scale)`` of a float tensor ``w`` (numpy or torch): ``q_high`` the
    ``high_bits``-bit integers (symmetric, ``scale = max|w| / (2**(H-1) - 1)``), ``q_low``
    their nested low-mode value ``(q >> L) << L`` (the dpH PE's, :mod:`hwgen.golden.dpmac`)."""
    lim = 2 ** (high_bits - 1) - 1
    low = high_bits // 2
    a = np.asarray(w, dtype=np.float64)
    scale = float(np.max(np.abs(a))) / lim or 1.0
    q = np.clip(np.rint(a / scale), -lim, lim).astype(np.int64)
    return q, (q >> low) << low, scale


class _Quantized:
    """Replace a net's weights by their mode's quantized values for a forward pass, with
    straight-through gradients (the float weights stay the trained parameters)."""

    def __init__(self, net, high_bits, mode):
        self.net, self.bits, self.mode = net, high_bits, mode

    def __call__(self, x):
        t = torch()
        F = t.nn.functional
        h = x
        for m in self.net:
            if isinstance(m, t.nn.Linear):
                h = F.linear(h, self._w(m.weight), m.bias)
            else:
                h = m(h)
        return h

    def _w(self, w):
        t = torch()
        q_hi, q_lo, scale = quantize_modes(w.detach().numpy(), self.bits)
        q = q_hi if self.mode == "high" else q_lo
        return w + (t.as_tensor(q * scale) - w).detach()


def _mode_accuracy(net, data, bits, mode):
    t = torch()
    with t.no_grad():
        out = _Quantized(net, bits, mode)(t.as_tensor(data.x_test))
    return float((out.argmax(dim=1).numpy() == data.y_test).mean())


def train_dualprec(data, arch, *, epochs, seed, high_bits, lr=0.01):
    """``(net with high-mode weights, report)``: phase 1 high mode (``epochs``), phase 2 both
    modes (``epochs``); baselines high-only and low-only for ``2 * epochs``."""
    t = torch()
    F = t.nn.functional
    if arch.convolutional:
        raise ValueError(f"dualprec trains dense layers only, not {arch.spec!r}")
    t0 = time.monotonic()

    def mode_loss(*modes):
        def loss(net, xb, yb):
            return sum(F.cross_entropy(_Quantized(net, high_bits, m)(xb), yb) for m in modes)
        return loss

    def trained(phases):
        net = build_net(arch, data.input_shape, data.classes, seed)
        for modes in phases:
            fit(net, data.x_train, data.y_train, epochs=epochs, seed=seed, lr=lr,
                loss_fn=mode_loss(*modes))
        return net

    dual = trained([("high",), ("high", "low")])
    high_only = trained([("high",), ("high",)])
    low_only = trained([("low",), ("low",)])

    def both(net):
        return dict(high=_mode_accuracy(net, data, high_bits, "high"),
                    low=_mode_accuracy(net, data, high_bits, "low"))
    report = dict(high_bits=high_bits, low_bits=high_bits // 2, epochs=epochs,
                  dual=both(dual), high_only=both(high_only), low_only=both(low_only),
                  seconds=round(time.monotonic() - t0, 2))
    high = [quantize_modes(w, high_bits) for w in _mats(dual)]
    set_weights(dual, [q * scale for q, _, scale in high])
    return dual, report


# -- bitlayers -----------------------------------------------------------------------------------

def bitlayer_curve(model, weight_bits=8, act_bits=8):
    """``[(bits, accuracy), ...]`` for ``bits = 1 .. weight_bits``: the model through the
    bit-serial golden model with its weights' top ``bits`` bit-planes."""
    from ..explore.emulate import evaluate
    return [(b, evaluate(model, f"bs{weight_bits}x{act_bits}@{b}")[0])
            for b in range(1, weight_bits + 1)]


def to_deployed_model(net, arch, data, method):
    """The explorer model of ``net`` named after the data and method."""
    return to_model(net, arch, data, f"{data.name}-{method}-{arch.spec}",
                    f"{data.name}, {arch.spec}, hwgen train --method {method}")
