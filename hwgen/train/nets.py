"""PyTorch networks of an :class:`~hwgen.train.arch.Arch`, their training loop, and their
conversion into the explorer's :class:`~hwgen.explore.graph.Model` (the ``train`` extra).

Training is deterministic for a seed: one CPU thread, ``torch.manual_seed``, mini-batch order
drawn from a numpy generator, deterministic algorithms, float64 arithmetic. The model keeps
the weights rounded to float32, what its ONNX file stores, so that the file reads back as the
same model bit for bit.
"""

import numpy as np

from ..extras import require

__all__ = ["torch", "build_net", "fit", "accuracy_of", "to_model", "weight_layers",
           "set_weights"]


def torch():
    """The ``torch`` module, or :class:`~hwgen.extras.MissingExtra` naming the extra."""
    t = require("torch", "train")
    t.set_num_threads(1)          # tiny models: threads only thrash on a shared 2-core machine
    t.use_deterministic_algorithms(True)
    return t


def build_net(arch, input_shape, classes, seed):
    """An ``nn.Sequential`` of ``arch`` on ``input_shape`` with ``classes`` outputs, its
    weights drawn from ``seed`` (PyTorch's default initialization)."""
    t = torch()
    nn = t.nn
    t.manual_seed(seed)
    mods = []
    plan = arch.shapes(input_shape, classes)
    for n, (it, shape, out) in enumerate(plan):
        if it[0] == "flatten":
            mods.append(nn.Flatten())
        elif it[0] == "dense":
            mods.append(nn.Linear(shape[0], out[0]))
            if n < len(plan) - 1:
                mods.append(nn.ReLU())
        elif it[0] == "conv":
            mods += [nn.Conv2d(shape[0], it[2], it[1]), nn.ReLU()]
        else:
            mods.append(nn.MaxPool2d(it[1]))
    return nn.Sequential(*mods).double()


def weight_layers(net):
    """The ``Linear``/``Conv2d`` modules of ``net``, in order."""
    nn = torch().nn
    return [m for m in net if isinstance(m, (nn.Linear, nn.Conv2d))]


def fit(net, x, y, *, epochs, seed, lr=0.01, batch=64, extra_loss=None, loss_fn=None,
        params=None):
    """Train ``net`` with Adam on ``(x, y)`` for ``epochs`` passes of mini-batches, the
    learning rate decaying linearly from ``lr`` to ``lr / epochs``.

    ``extra_loss(net)`` is added to the loss (a regularizer); ``loss_fn(net, xb, yb)``
    replaces the whole loss (default cross-entropy of ``net(xb)``); ``params`` the
    parameters to train (default all). Returns the mean loss of the last epoch.
    """
    t = torch()
    F = t.nn.functional
    xt, yt = t.as_tensor(np.asarray(x, dtype=np.float64)), t.as_tensor(np.asarray(y))
    opt = t.optim.Adam(list(net.parameters()) if params is None else list(params), lr=lr)
    rng = np.random.default_rng(seed)
    last = 0.0
    for epoch in range(epochs):
        for g in opt.param_groups:            # linear decay to lr / epochs: settles at the end
            g["lr"] = lr * (epochs - epoch) / epochs
        order = rng.permutation(len(xt))
        total = 0.0
        for s in range(0, len(order), batch):
            idx = t.as_tensor(order[s:s + batch])
            xb, yb = xt[idx], yt[idx]
            loss = loss_fn(net, xb, yb) if loss_fn else F.cross_entropy(net(xb), yb)
            if extra_loss is not None:
                loss = loss + extra_loss(net)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        last = total / len(order)
    return last


def accuracy_of(net, x, y):
    """Test accuracy of ``net`` (arg-max of its outputs)."""
    t = torch()
    with t.no_grad():
        out = net(t.as_tensor(np.asarray(x, dtype=np.float64)))
    return float((out.argmax(dim=1).numpy() == np.asarray(y)).mean())


def set_weights(net, mats):
    """Set the weights of ``net``'s weight layers to ``mats`` (float arrays, their shapes)."""
    t = torch()
    with t.no_grad():
        for m, w in zip(weight_layers(net), mats):
            m.weight.copy_(t.as_tensor(np.asarray(w, dtype=np.float64)))


def to_model(net, arch, data, name, description):
    """The explorer's :class:`~hwgen.explore.graph.Model` of ``net`` (trained on ``data``),
    with the data's test inputs, calibration inputs (256 training inputs) and ``pre``."""
    from ..explore.graph import Model
    nn = torch().nn
    layers = []
    for m in net:
        if isinstance(m, nn.Linear):
            layers.append(dict(kind="dense", W=_np(m.weight), b=_np(m.bias)))
        elif isinstance(m, nn.Conv2d):
            layers.append(dict(kind="conv2d", W=_np(m.weight), b=_np(m.bias)))
        elif isinstance(m, nn.ReLU):
            layers.append(dict(kind="relu"))
        elif isinstance(m, nn.MaxPool2d):
            layers.append(dict(kind="maxpool", size=int(m.kernel_size)))
        elif isinstance(m, nn.Flatten):
            layers.append(dict(kind="flatten"))
    from ..explore.models import DATASETS, calib_rows
    calib = data.x_train[calib_rows(len(data.x_train))]
    return Model(name, layers, data.input_shape, data.x_test, data.y_test, calib,
                 description, pre=data.pre,
                 dataset=data.name if data.name in DATASETS else None)


def _np(p):
    return p.detach().numpy().astype(np.float32).astype(np.float64)
