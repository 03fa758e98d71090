"""Seeded 70/30 train/test splits and the training regimes ``complete``, ``missing``, ``small``.

Test rows are always complete; the regime only changes the training rows:

* ``complete``: all views observed;
* ``missing``: each training row loses ``round(u * M)`` of its ``M`` views (``u ~ U(0.3,
  0.5)`` per row; at least one view dropped and one kept), as a row of NaN in that block;
* ``small``: at most ``SMALL_ROWS`` training rows (a stratified sub-sample), complete;
* ``tiny``: ``TINY_ROWS`` training rows, complete (the validation split has 3 rows).

Not in the default run, ``EXTRA_REGIMES``: ``rows200`` and ``rows400``, 200 and 400 training
rows drawn as ``small`` draws its 100 (complete): wide data with fewer rows than columns;
``rows400missing``, the 400 rows of ``rows400`` with views dropped as ``missing`` drops them.
"""
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

REGIMES = ("complete", "missing", "small", "tiny")
EXTRA_REGIMES = {"rows200": 200, "rows400": 400, "rows400missing": 400}
TEST_FRACTION = 0.3
SMALL_ROWS = 100
TINY_ROWS = 30
MISSING_RANGE = (0.3, 0.5)


@dataclass
class Split:
    dataset: object  # the Dataset (its full views are not used past the split)
    regime: str
    seed: int
    train: dict
    test: dict
    y_train: np.ndarray
    y_test: np.ndarray


def drop_views(views, seed, low=MISSING_RANGE[0], high=MISSING_RANGE[1]):
    """A copy of ``views`` where each row misses ``round(u * M)`` views, ``u ~ U(low, high)``,
    clipped to ``[1, M - 1]``; returns it and the boolean ``(n, M)`` observed mask."""
    names = list(views)
    n, m = len(next(iter(views.values()))), len(names)
    if m < 2:
        raise ValueError("the missing regime needs at least two views")
    rng = np.random.default_rng(seed)
    n_drop = np.clip(np.round(rng.uniform(low, high, size=n) * m), 1, m - 1).astype(int)
    observed = np.ones((n, m), dtype=bool)
    for i, k in enumerate(n_drop):
        observed[i, rng.choice(m, size=k, replace=False)] = False
    out = {}
    for j, name in enumerate(names):
        block = np.array(views[name], dtype=np.float64, copy=True)
        block[~observed[:, j]] = np.nan
        out[name] = block
    return out, observed


def make_split(dataset, regime, seed):
    """The :class:`Split` of ``dataset`` for ``regime`` and ``seed``."""
    if regime not in REGIMES and regime not in EXTRA_REGIMES:
        raise ValueError(f"unknown regime {regime!r}; known: {[*REGIMES, *EXTRA_REGIMES]}")
    rows = np.arange(len(dataset.y))
    train, test = train_test_split(rows, test_size=TEST_FRACTION, stratify=dataset.y,
                                   random_state=seed)
    size = {"small": SMALL_ROWS, "tiny": TINY_ROWS, **EXTRA_REGIMES}.get(regime)
    if size is not None and len(train) > size:
        train, _ = train_test_split(train, train_size=size, stratify=dataset.y[train],
                                    random_state=seed)
    train, test = np.sort(train), np.sort(test)
    X_train = {k: v[train].astype(np.float64) for k, v in dataset.views.items()}
    X_test = {k: v[test].astype(np.float64) for k, v in dataset.views.items()}
    if regime in ("missing", "rows400missing"):
        X_train, _ = drop_views(X_train, seed)
    return Split(dataset, regime, seed, X_train, X_test, dataset.y[train], dataset.y[test])
