"""
Imputing missing modalities
===========================

A multi-modal VAE imputes whole missing modalities from the observed ones. Here the digits
are a 2-D array of 64 pixels whose column groups are the four 4x4 quadrants
(``modalities=[16, 16, 16, 16]``); in the test rows the bottom-right quadrant is missing
(NaN). :class:`~skmmvae.MultiModalImputer`, whose ``transform`` fills the missing blocks and
can stand in a :class:`~sklearn.pipeline.Pipeline` where
:class:`~sklearn.impute.IterativeImputer` would, is compared with scikit-learn's imputers,
all with default parameters and fitted on the same training data, in two settings:

* **views missing in training**: 40% of the training digits miss one or two quadrants, as
  real multi-view data do. This is where the VAE is strongest: it learns from every
  observed quadrant of every row, where a per-feature imputer sees scattered holes.
* **complete training data**: here :class:`~sklearn.impute.KNNImputer` is better on these
  pixels (in our run by 9%: 0.0322 against 0.0350), in a fraction of the time (the errors and
  times are printed below). We show it because it is what you would see.

Unlike the per-feature imputers, the VAE treats each quadrant as one unit: a modality is
missing when its whole block is NaN, and observed values pass through unchanged.

Running it takes about 35 seconds on a 2-core CPU (at its defaults).
"""
import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from skmmvae import MultiModalImputer
from skmmvae.datasets import load_digits_modalities, quadrants_to_images

QUICK = os.environ.get("SKMMVAE_EXAMPLE_QUICK") == "1"  # a seconds-long smoke run
rng = np.random.default_rng(0)

X, y = load_digits_modalities(return_X_y=True)
quadrants = ["top_left", "top_right", "bottom_left", "bottom_right"]
pixels = np.hstack([X[q] for q in quadrants])  # (n, 64): quadrant after quadrant
if QUICK:
    pixels, y = pixels[:300], y[:300]
train, test = train_test_split(pixels, test_size=0.25, random_state=0)

# %%
# The incomplete training set: 40% of the rows lose one or two random quadrants.
incomplete = train.copy()
for row in np.flatnonzero(rng.random(len(train)) < 0.4):
    for q in rng.choice(4, size=rng.integers(1, 3), replace=False):
        incomplete[row, 16 * q:16 * (q + 1)] = np.nan

# In the test rows the bottom-right quadrant (the last 16 columns) is missing.
hidden = slice(48, 64)
test_missing = test.copy()
test_missing[:, hidden] = np.nan


def imputers():
    return {
        "MultiModalImputer": MultiModalImputer(
            modalities=[16, 16, 16, 16], likelihoods="bernoulli", random_state=0,
            **({"max_epochs": 2} if QUICK else {}),
        ),
        "IterativeImputer": IterativeImputer(max_iter=3 if QUICK else 10, random_state=0),
        "KNNImputer": KNNImputer(),
        "mean (SimpleImputer)": SimpleImputer(),
    }


# %%
# Fit every imputer in both settings and compare their errors on the hidden quadrant.
results, filled = {}, {}
# One BLAS thread: IterativeImputer fits many small regressions, which oversubscribed BLAS
# threads slow down a lot on small or busy machines.
with threadpool_limits(1):
    for setting, data in [("views missing in training", incomplete), ("complete training data", train)]:
        print(setting)
        for name, imputer in imputers().items():
            start = time.perf_counter()
            out = imputer.fit(data).transform(test_missing)
            seconds = time.perf_counter() - start
            error = np.mean((out[:, hidden] - test[:, hidden]) ** 2)
            results[setting, name] = error
            print(f"  {name:<22} MSE {error:.4f}   ({seconds:.1f} s)")
            if setting == "views missing in training":
                filled[name] = out

assert np.array_equal(filled["MultiModalImputer"][:, :48], test[:, :48])  # observed untouched

# %%
# The errors side by side: the VAE gains most where the training data are incomplete.
names = list(imputers())
fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
width = 0.38
for k, setting in enumerate(["views missing in training", "complete training data"]):
    ax.barh(np.arange(len(names)) + (k - 0.5) * width, [results[setting, n] for n in names],
            height=width, label=setting)
ax.set_yticks(range(len(names)), [n.split(" ")[0] for n in names])
ax.invert_yaxis()
ax.set_xlabel("MSE on the hidden quadrant (lower is better)")
ax.legend(fontsize=8)
plt.show()

# %%
# A few test digits (trained on the incomplete data), with the quadrant hidden, and each
# method's imputation.
def as_images(array):
    return quadrants_to_images({q: array[:, 16 * i:16 * (i + 1)] for i, q in enumerate(quadrants)})


# sphinx_gallery_thumbnail_number = 2
rows = {"original": test, "hidden": test_missing, **filled}
fig, axes = plt.subplots(len(rows), 8, figsize=(8, 1.1 * len(rows)), layout="constrained")
cmap = plt.get_cmap("gray_r").with_extremes(bad="tab:red")
for r, (name, array) in enumerate(rows.items()):
    for c, image in enumerate(as_images(array[:8])):
        axes[r, c].imshow(np.ma.masked_invalid(image), cmap=cmap, vmin=0, vmax=1)
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(name.split(" ")[0], fontsize=8)
plt.show()
