"""
Imputing missing modalities
===========================

A multi-modal VAE imputes whole missing modalities from the observed ones. Here the digits
are a 2-D array of 64 pixels whose column groups are the four 4x4 quadrants
(``modalities=[16, 16, 16, 16]``). In training, 30% of the rows miss one random quadrant; in
the test rows the bottom-right quadrant is missing (NaN). We compare
:class:`~skmmvae.MultiModalImputer`, whose ``transform`` fills the missing blocks and can
stand in a :class:`~sklearn.pipeline.Pipeline` where
:class:`~sklearn.impute.IterativeImputer` would, with scikit-learn's imputers fitted on the
same incomplete training data.

Unlike the per-feature imputers, the VAE treats each quadrant as one unit: a modality is
missing when its whole block is NaN, and observed values pass through unchanged.
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
# Make the training data incomplete: 30% of the rows lose one random quadrant.
train = train.copy()
for row in np.flatnonzero(rng.random(len(train)) < 0.3):
    q = rng.integers(4)
    train[row, 16 * q:16 * (q + 1)] = np.nan

# In the test rows the bottom-right quadrant (the last 16 columns) is missing.
hidden = slice(48, 64)
test_missing = test.copy()
test_missing[:, hidden] = np.nan

# %%
# Fit the imputers and compare their errors on the hidden quadrant.
imputers = {
    "MultiModalImputer": MultiModalImputer(
        modalities=[16, 16, 16, 16],
        likelihoods="bernoulli",
        aggregation="mopoe",
        n_components=8,
        beta=0.25,
        lr=3e-3,
        batch_size=64,
        max_epochs=2 if QUICK else 50,
        early_stopping=False,
        random_state=0,
    ),
    "IterativeImputer": IterativeImputer(max_iter=3 if QUICK else 10, random_state=0),
    "KNNImputer": KNNImputer(),
    "mean (SimpleImputer)": SimpleImputer(),
}
filled = {}
# One BLAS thread: IterativeImputer fits many small regressions, which oversubscribed BLAS
# threads slow down a lot on small or busy machines.
with threadpool_limits(1):
    for name, imputer in imputers.items():
        start = time.perf_counter()
        filled[name] = imputer.fit(train).transform(test_missing)
        error = np.mean((filled[name][:, hidden] - test[:, hidden]) ** 2)
        print(f"{name:<22} MSE {error:.4f}   ({time.perf_counter() - start:.1f} s)")

vae_filled = filled["MultiModalImputer"]
assert np.array_equal(vae_filled[:, :48], test[:, :48])  # observed values are untouched

# %%
# Show a few test digits, with the quadrant hidden, and each method's imputation.
def as_images(array):
    return quadrants_to_images({q: array[:, 16 * i:16 * (i + 1)] for i, q in enumerate(quadrants)})


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
