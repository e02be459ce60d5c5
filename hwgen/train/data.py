"""Training data of ``hwgen train --data``: a bundled data set or a training file (no PyTorch).

A bundled set (``digits``, ``iris``, ``wine``, ``cancer``; scikit-learn, the explore extra) is
split and normalized as the built-in models are (:func:`hwgen.explore.models.dataset`).

A training file is an ``.npz`` archive with exactly the keys ``x_train``, ``y_train``,
``x_test``, ``y_test``: raw inputs of shape ``(N, features)`` or ``(N, C, H, W)`` and integer
labels ``0..classes-1`` (at least two classes). The normalization is each feature's mean and
deviation over ``x_train``; it becomes the model's ``pre`` steps (the first nodes of its ONNX
graph), so the trained model takes raw inputs like a built-in one.
"""

import zipfile
from dataclasses import dataclass

import numpy as np

__all__ = ["TrainData", "load_training_data", "TRAIN_KEYS"]

TRAIN_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass
class TrainData:
    """Normalized inputs (after ``pre``), labels, and what the model needs to know."""
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    pre: list
    classes: int

    @property
    def input_shape(self):
        return self.x_train.shape[1:]

    def as_images(self):
        """The same data with vector inputs as ``1 x S x S`` images (digits: 1 x 8 x 8).

        Raises
        ------
        ValueError
            The features are not a square number.
        """
        if self.x_train.ndim == 4:
            return self
        f = self.x_train.shape[1]
        side = int(round(f ** 0.5))
        if side * side != f:
            raise ValueError(f"Data {self.name!r}: {f} features are not a square image; a "
                             f"convolution needs image inputs")
        shape = (1, side, side)
        pre = [(op, np.asarray(v).reshape(shape) if np.ndim(v) == 1 else v)
               for op, v in self.pre]
        return TrainData(self.name, self.x_train.reshape((-1,) + shape), self.y_train,
                         self.x_test.reshape((-1,) + shape), self.y_test, pre, self.classes)


def load_training_data(spec):
    """The :class:`TrainData` of ``spec``: a bundled data set's name or a training file.

    Raises
    ------
    ValueError
        Unknown name, an unreadable file, missing or extra keys, shapes or labels that do
        not fit; one line naming the file.
    """
    from ..explore.models import DATASETS, apply_pre, dataset
    s = str(spec)
    if s in DATASETS:
        x_tr, x_te, y_tr, y_te, pre = dataset(s)
        return _checked(s, s, apply_pre(x_tr, pre), y_tr, apply_pre(x_te, pre), y_te, pre)
    if not s.endswith(".npz"):
        raise ValueError(f"Data must be one of {', '.join(DATASETS)} or a training .npz file "
                         f"(keys {', '.join(TRAIN_KEYS)}), not {s!r}")
    where = f"Training file {s!r}"
    try:
        with np.load(s, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ValueError(f"{where} does not exist") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"{where} is not a readable .npz archive ({e})") from None
    if set(arrays) != set(TRAIN_KEYS):
        missing = [k for k in TRAIN_KEYS if k not in arrays]
        extra = sorted(set(arrays) - set(TRAIN_KEYS))
        what = (f"misses {', '.join(missing)}" if missing else
                f"has keys it should not ({', '.join(extra)})")
        raise ValueError(f"{where} {what}; a training file holds exactly "
                         f"{', '.join(TRAIN_KEYS)}")
    x_tr = np.asarray(arrays["x_train"], dtype=np.float64)
    mu = x_tr.mean(axis=0)
    sd = x_tr.std(axis=0) + 1e-12
    pre = [("sub", mu), ("div", sd)]
    name = s.rsplit("/", 1)[-1].removesuffix(".npz")
    return _checked(name, where, apply_pre(x_tr, pre), arrays["y_train"],
                    apply_pre(arrays["x_test"], pre), arrays["y_test"], pre)


def _checked(name, where, x_tr, y_tr, x_te, y_te, pre):
    for key, x, y in (("train", x_tr, y_tr), ("test", x_te, y_te)):
        if x.ndim not in (2, 4) or len(x) == 0:
            raise ValueError(f"{where}: x_{key} must be (N, features) or (N, C, H, W) with "
                             f"N >= 1, not {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{where}: x_{key} has NaN or infinite values")
        y = np.asarray(y)
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{where}: y_{key} must be {len(x)} integer labels, not "
                             f"{y.dtype} {y.shape}")
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise ValueError(f"{where}: x_train inputs {x_tr.shape[1:]} and x_test inputs "
                         f"{x_te.shape[1:]} differ")
    y_tr, y_te = np.asarray(y_tr, dtype=np.int64), np.asarray(y_te, dtype=np.int64)
    classes = int(max(y_tr.max(), y_te.max())) + 1
    if min(y_tr.min(), y_te.min()) < 0 or classes < 2:
        raise ValueError(f"{where}: labels must be 0..classes-1 with at least two classes")
    return TrainData(name, x_tr, y_tr, x_te, y_te, pre, classes)
