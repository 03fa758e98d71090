"""
Quickstart: fit, transform, predict and score
=============================================

scikit-learn's 8x8 digits, split into five *modalities* of the same samples: the four 4x4
image quadrants (pixel values in [0, 1], modelled as Bernoulli) and the label (categorical).
A :class:`~skmmvae.MultiModalVAE` learns one latent space shared by all of them, and an
encoder for every subset of modalities. With the fitted model we

* embed held-out digits from all modalities, or from one quadrant only (``transform``),
* predict the label from the image alone (``predict`` fills in missing modalities),
* score held-out digits by their log-likelihood (``score``),
* generate new digits from the prior (``sample``).

Running it takes about 12 s on a 2-core CPU (measured standalone, at its defaults).
"""
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from skmmvae import MultiModalVAE
from skmmvae.datasets import load_digits_modalities, quadrants_to_images

QUICK = os.environ.get("SKMMVAE_EXAMPLE_QUICK") == "1"  # a seconds-long smoke run

X, y = load_digits_modalities(return_X_y=True)
print({name: block.shape for name, block in X.items()})
index = np.arange(len(y))
if QUICK:
    index = index[:300]
train, test = train_test_split(index, test_size=0.25, random_state=0, stratify=y[index])
X_train = {name: block[train] for name, block in X.items()}
X_test = {name: block[test] for name, block in X.items()}

# %%
# Fit. Quadrants are Bernoulli, the label categorical. On small data sets like this one a
# larger learning rate, small batches and ``beta < 1`` keep the latent space in use.
quadrants = ["top_left", "top_right", "bottom_left", "bottom_right"]
vae = MultiModalVAE(
    likelihoods={**{q: "bernoulli" for q in quadrants}, "label": "categorical"},
    n_components=8,
    beta=0.25,
    lr=3e-3,
    batch_size=64,
    max_epochs=2 if QUICK else 40,
    early_stopping=False,
    random_state=0,
)
vae.fit(X_train)

# %%
# Transform: the posterior mean of ``z`` given the observed modalities, or a chosen subset.
Z_all = vae.transform(X_test)
Z_top_left = vae.transform(X_test, modalities=["top_left"])
print("latent codes:", Z_all.shape)

# %%
# Predict: the label block is missing, so it is imputed from the four quadrants.
image_only = {q: X_test[q] for q in quadrants}
predicted = vae.predict(image_only)["label"][:, 0]
print(f"label accuracy from the image alone: {np.mean(predicted == y[test]):.3f}")

# %%
# Score: importance-weighted estimate of the log-likelihood per digit (higher is better),
# of all modalities or of the observed ones only.
print(f"log-likelihood, all modalities:  {vae.score(X_test):.2f} nats")
print(f"log-likelihood, image only:      {vae.score(image_only):.2f} nats")

# %%
# Plot: the latent space seen from all modalities and from one quadrant, and new digits.
pca = PCA(n_components=2).fit(Z_all)
generated, _ = vae.sample(8)
fig, axes = plt.subplot_mosaic([["all", "one", "gen"]], figsize=(13, 4), layout="constrained",
                               width_ratios=[1, 1, 0.6])
for key, Z, title in [("all", Z_all, "from all modalities"), ("one", Z_top_left, "from the top-left quadrant")]:
    points = axes[key].scatter(*pca.transform(Z).T, c=y[test], cmap="tab10", s=8, vmin=-0.5, vmax=9.5)
    axes[key].set_title(f"latent means {title}")
fig.colorbar(points, ax=axes["one"], ticks=range(10), label="digit")
images = quadrants_to_images(generated)
axes["gen"].imshow(np.vstack([np.hstack(images[:4]), np.hstack(images[4:])]), cmap="gray_r")
axes["gen"].set_title("sampled digits")
axes["gen"].axis("off")
plt.show()
