"""The bundled digits split into quadrant modalities plus the label."""
import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch

QUADRANTS = ("top_left", "top_right", "bottom_left", "bottom_right")
_QUADRANT_SLICES = {
    "top_left": (slice(0, 4), slice(0, 4)),
    "top_right": (slice(0, 4), slice(4, 8)),
    "bottom_left": (slice(4, 8), slice(0, 4)),
    "bottom_right": (slice(4, 8), slice(4, 8)),
}


_DIGITS_DESCR = """\
Digits split into quadrant modalities
-------------------------------------

scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes; see
``sklearn.datasets.load_digits``) cut into four 4x4 quadrants. Each quadrant is one modality
of 16 pixels scaled to [0, 1] (pixel value / 16), named top_left, top_right, bottom_left and
bottom_right; the digit class is a fifth, categorical modality "label" of shape (n, 1).
Reassemble images with ``skmmvae.datasets.quadrants_to_images``.
"""


def _pixel_names(name):
    rows, cols = _QUADRANT_SLICES[name]
    return [f"pixel_{r}_{c}" for r in range(rows.start, rows.stop)
            for c in range(cols.start, cols.stop)]


def load_digits_modalities(return_X_y=False, as_frame=False):
    """Load scikit-learn's 8x8 digits as a five-modality data set (no download).

    The four 4x4 image quadrants ``"top_left", "top_right", "bottom_left",
    "bottom_right"`` are modalities of 16 pixels each, scaled to [0, 1] by dividing the raw
    values (0..16) by 16, and the class label is the categorical modality ``"label"``.
    Pixels are flattened row by row within each quadrant.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(X, y)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, the modalities are pandas DataFrames (pixel columns named
        ``pixel_<row>_<col>`` in image coordinates, the label column ``"label"``) and the
        target is a pandas Series. Requires pandas.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Returned when ``return_X_y=False``, with attributes ``data`` (the dict ``X``),
        ``target`` (``y``), ``images`` (ndarray (n, 8, 8), scaled to [0, 1]),
        ``modality_shapes`` (dict of quadrant name to ``(4, 4)``), ``target_names`` and
        ``DESCR``.
    (X, y) : tuple
        Returned when ``return_X_y=True``. ``X`` is a dict with the four quadrants (float64,
        shape (n, 16)) and ``"label"`` (int64, shape (n, 1)); ``y`` is the int64 label array
        of shape (n,).

    Examples
    --------
    >>> from skmmvae.datasets import load_digits_modalities
    >>> X, y = load_digits_modalities(return_X_y=True)
    >>> list(X)
    ['top_left', 'top_right', 'bottom_left', 'bottom_right', 'label']
    >>> X["top_left"].shape, X["label"].shape, y.shape
    ((1797, 16), (1797, 1), (1797,))
    """
    digits = load_digits()
    images = digits.images.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    X = {name: images[:, rows, cols].reshape(len(images), -1)
         for name, (rows, cols) in _QUADRANT_SLICES.items()}
    X["label"] = y[:, None].copy()
    if as_frame:
        X, y = _digits_as_frame(X, y)
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        images=images,
        modality_shapes={name: (4, 4) for name in QUADRANTS},
        target_names=np.arange(10),
        DESCR=_DIGITS_DESCR,
    )


def _digits_as_frame(X, y):
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is a test dependency
        raise ImportError("as_frame=True requires pandas.") from exc
    frames = {name: pd.DataFrame(X[name], columns=_pixel_names(name)) for name in QUADRANTS}
    frames["label"] = pd.DataFrame({"label": X["label"][:, 0]})
    return frames, pd.Series(y, name="target")


def quadrants_to_images(X):
    """Reassemble ``(n, 8, 8)`` images from the four quadrant modalities.

    Inverse of the split in :func:`load_digits_modalities`; a NaN quadrant row (a missing
    modality) stays NaN in the image.

    Parameters
    ----------
    X : dict
        Mapping with keys ``"top_left", "top_right", "bottom_left", "bottom_right"``, each an
        array-like of shape (n, 16); other keys (such as ``"label"``) are ignored.

    Returns
    -------
    images : ndarray of shape (n, 8, 8)
        The reassembled images, float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae.datasets import load_digits_modalities, quadrants_to_images
    >>> digits = load_digits_modalities()
    >>> np.array_equal(quadrants_to_images(digits.data), digits.images)
    True
    """
    if not hasattr(X, "keys"):
        raise TypeError(f"X must be a dict of quadrant arrays, got {type(X).__name__}.")
    missing = [name for name in QUADRANTS if name not in X]
    if missing:
        raise ValueError(f"X lacks the quadrant modalities {missing}; expected {list(QUADRANTS)}.")
    blocks = [np.asarray(X[name], dtype=np.float64) for name in QUADRANTS]
    n = blocks[0].shape[0]
    for name, block in zip(QUADRANTS, blocks):
        if block.shape != (n, 16):
            raise ValueError(
                f"Quadrant {name!r} must have shape ({n}, 16), got {block.shape}."
            )
    images = np.empty((n, 8, 8))
    for name, block in zip(QUADRANTS, blocks):
        rows, cols = _QUADRANT_SLICES[name]
        images[:, rows, cols] = block.reshape(n, 4, 4)
    return images
