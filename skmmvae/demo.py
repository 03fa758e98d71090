"""The demo behind ``python -m skmmvae demo``: a multi-modal VAE on incomplete digits.

The 8x8 digits of scikit-learn are split into five modalities, the four 4x4 image quadrants
and the label (:func:`skmmvae.datasets.load_digits_modalities`). The training digits are
incomplete, as real multi-view data are: 40% of them miss one or two quadrants and half of
them have no label. One :class:`~skmmvae.MultiModalVAE` with default parameters learns from
all of them; on held-out digits it then

* scores the data (importance-weighted log-likelihood),
* imputes a hidden quadrant from the three others (the label hidden too), compared with
  scikit-learn's ``IterativeImputer``, ``KNNImputer`` and mean imputation fitted on the same
  incomplete training pixels,
* predicts the label from the top half of the image alone, compared with a
  ``LogisticRegression`` trained on the labelled training digits (missing pixels
  mean-imputed),

and draws a figure of the imputations (with the best baseline's) and of the latent space.
This is where the package is strongest: views missing in training and predictions from any
subset of them. With complete training data, ``KNNImputer`` imputes these pixels about as well
(see the quality benchmark in the documentation). :func:`run_demo` does all of it and returns
the numbers; ``skmmvae/__main__.py`` is the command line.
"""
import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from .datasets import QUADRANTS, load_digits_modalities, quadrants_to_images

HIDDEN_QUADRANT = "bottom_right"
#: The quadrants the label is predicted from.
GIVEN_HALF = ("top_left", "top_right")
#: Fraction of training digits missing one or two quadrants, and missing their label.
MISSING_QUADRANTS = 0.4
MISSING_LABELS = 0.5
#: Default parameters of the estimator (``max_epochs=100`` with early stopping); the demo
#: only names the likelihoods.
DEFAULT_EPOCHS = 100
DEFAULT_AGGREGATION = "auto"


def _rows(X, index):
    return {name: block[index] for name, block in X.items()}


def _pixels(X):
    """The four quadrants side by side: a (n, 64) array (quadrant by quadrant)."""
    return np.hstack([X[name] for name in QUADRANTS])


def _baseline_imputers(random_state):
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

    return {
        "IterativeImputer": IterativeImputer(max_iter=10, random_state=random_state),
        "KNNImputer": KNNImputer(n_neighbors=5),
        "mean (SimpleImputer)": SimpleImputer(strategy="mean"),
    }


def _make_incomplete(X, rng):
    """A copy of the training digits with quadrants and labels missing (rows of NaN)."""
    X = {name: block.astype(np.float64, copy=True) for name, block in X.items()}
    n = len(X["label"])
    for row in np.flatnonzero(rng.random(n) < MISSING_QUADRANTS):
        for q in rng.choice(len(QUADRANTS), size=rng.integers(1, 3), replace=False):
            X[QUADRANTS[q]][row] = np.nan
    X["label"][rng.random(n) < MISSING_LABELS] = np.nan
    return X


def run_demo(epochs=DEFAULT_EPOCHS, aggregation=DEFAULT_AGGREGATION, objective="tight",
             output="skmmvae_demo.png", seed=0, verbose=1, test_size=0.25, n_samples=None,
             print_fn=print):
    """Train a multi-modal VAE on incomplete digits and evaluate it on held-out digits.

    Parameters
    ----------
    epochs : int, default=100
        Maximum training epochs (``max_epochs``; early stopping usually ends sooner).
    aggregation : str, default="auto"
        The ``aggregation`` of :class:`~skmmvae.MultiModalVAE`.
    objective : str, default="tight"
        The ``objective`` of :class:`~skmmvae.MultiModalVAE`.
    output : str, path or None, default="skmmvae_demo.png"
        Where to write the figure; ``None`` draws none.
    seed : int, default=0
        Seeds the train/test split, the missing views, the model and the baselines.
    verbose : int, default=1
        1 prints what is done and the results table; 0 is silent.
    test_size : float, default=0.25
        Fraction of the digits held out.
    n_samples : int or None, default=None
        Use only this many digits (a random subset), for quick runs.
    print_fn : callable, default=print
        Where the table goes.

    Returns
    -------
    results : dict
        ``log_likelihood`` (mean per test digit, nats), ``imputation_mse`` (dict of method
        to mean squared error on the hidden quadrant's pixels), ``label_accuracy`` (dict of
        method to accuracy from the top half of the image), ``chance_accuracy``, ``n_train``,
        ``n_test``, ``n_epochs``, ``fit_seconds``, ``total_seconds``, ``hidden_quadrant``,
        ``aggregation`` (as fitted, ``"auto"`` resolved), ``objective`` and ``figure`` (the
        path written, or None).

    Examples
    --------
    A quick run on 300 digits (the default uses all 1797):

    >>> from skmmvae.demo import run_demo
    >>> results = run_demo(epochs=2, output=None, verbose=0, n_samples=300)
    >>> sorted(results["label_accuracy"])
    ['LogisticRegression', 'MultiModalVAE']
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    from .estimator import MultiModalVAE

    start = time.perf_counter()
    say = print_fn if verbose else (lambda *a, **k: None)
    X, y = load_digits_modalities(return_X_y=True)
    index = np.arange(len(y))
    rng = np.random.default_rng(seed)
    if n_samples is not None and n_samples < len(y):
        index = np.sort(rng.choice(index, size=n_samples, replace=False))
    train, test = train_test_split(index, test_size=test_size, random_state=seed, stratify=y[index])
    X_train, X_test, y_test = _make_incomplete(_rows(X, train), rng), _rows(X, test), y[test]

    likelihoods = {name: "bernoulli" for name in QUADRANTS}
    likelihoods["label"] = "categorical"
    vae = MultiModalVAE(likelihoods=likelihoods, aggregation=aggregation, objective=objective,
                        max_epochs=epochs, random_state=seed)
    n_incomplete = int(np.isnan(_pixels(X_train)).any(1).sum())
    n_labelled = int((~np.isnan(X_train["label"][:, 0])).sum())
    say(f"Training MultiModalVAE (default parameters) on {len(train)} digits x 5 modalities: "
        f"{n_incomplete} miss image quadrants, {len(train) - n_labelled} their label ...")
    fit_start = time.perf_counter()
    vae.fit(X_train)
    fit_seconds = time.perf_counter() - fit_start

    log_likelihood = vae.score(X_test)

    # Hide one quadrant and the label: the VAE imputes the quadrant from the other three.
    hidden = {name: block.astype(np.float64, copy=True) for name, block in X_test.items()}
    hidden[HIDDEN_QUADRANT][:] = np.nan
    hidden["label"][:] = np.nan
    imputed = vae.predict(hidden)
    truth = X_test[HIDDEN_QUADRANT]
    mse = {"MultiModalVAE": float(np.mean((imputed[HIDDEN_QUADRANT] - truth) ** 2))}

    # Baselines on the same 64 pixels (NaN where a quadrant is missing in training, and the
    # hidden quadrant's columns in the test rows).
    pixels_train = _pixels(X_train)
    pixels_test = _pixels(hidden)
    columns = slice(16 * QUADRANTS.index(HIDDEN_QUADRANT), 16 * (QUADRANTS.index(HIDDEN_QUADRANT) + 1))
    baseline_images = {}
    # One BLAS thread: for matrices this small it is the fastest, and it avoids the large
    # slow-downs of oversubscribed BLAS threads on small or busy machines.
    with threadpool_limits(1), warnings.catch_warnings():
        # IterativeImputer's "early stopping criterion not reached" is about its own rounds
        warnings.filterwarnings("ignore", category=ConvergenceWarning, module="sklearn")
        for name, imputer in _baseline_imputers(seed).items():
            filled = imputer.fit(pixels_train).transform(pixels_test)
            mse[name] = float(np.mean((filled[:, columns] - truth) ** 2))
            baseline_images[name] = filled[:, columns]

        # The label from the top half of the image alone.
        half = {name: X_test[name] for name in GIVEN_HALF}
        accuracy = {"MultiModalVAE": float(np.mean(vae.predict_proba(half).argmax(1) == y_test))}
        labelled = ~np.isnan(X_train["label"][:, 0])
        mean_imputer = _baseline_imputers(seed)["mean (SimpleImputer)"].fit(pixels_train)
        half_pixels = _pixels({**{q: np.full_like(truth, np.nan) for q in QUADRANTS}, **half})
        classifier = LogisticRegression(max_iter=2000).fit(
            mean_imputer.transform(pixels_train[labelled]), X_train["label"][labelled, 0])
        predicted = classifier.predict(mean_imputer.transform(half_pixels))
        accuracy["LogisticRegression"] = float(np.mean(predicted == y_test))

    figure = None
    if output is not None:
        best = min(baseline_images, key=mse.get)
        figure = _plot(vae, X_test, hidden, imputed, (best, baseline_images[best]), y_test, Path(output))

    results = {
        "log_likelihood": float(log_likelihood),
        "imputation_mse": mse,
        "label_accuracy": accuracy,
        "chance_accuracy": float(np.max(np.bincount(y_test)) / len(y_test)),
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "n_epochs": int(vae.n_iter_),
        "fit_seconds": float(fit_seconds),
        "total_seconds": float(time.perf_counter() - start),
        "hidden_quadrant": HIDDEN_QUADRANT,
        "aggregation": vae.aggregation_,  # as fitted ("auto" resolved)
        "objective": objective,
        "figure": None if figure is None else str(figure),
    }
    say(format_results(results))
    return results


def format_results(results):
    """The results of :func:`run_demo` as a small text table."""
    n_test = results["n_test"]
    lines = [
        "",
        f"Held-out results ({n_test} test digits)",
        "-" * 60,
        f"{'log-likelihood per digit (score)':<44}{results['log_likelihood']:>10.2f} nats",
        "",
        f"MSE imputing the {results['hidden_quadrant']} quadrant (label hidden too):",
    ]
    for name, value in sorted(results["imputation_mse"].items(), key=lambda kv: kv[1]):
        lines.append(f"  {name:<42}{value:>10.4f}")
    lines += ["", "label accuracy from the top half of the image:"]
    for name, value in sorted(results["label_accuracy"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {name:<42}{value:>10.3f}")
    lines += [
        f"  {'(chance: the most frequent class)':<42}{results['chance_accuracy']:>10.3f}",
        "-" * 60,
        f"fit {results['fit_seconds']:.1f} s ({results['n_epochs']} epochs), "
        f"total {results['total_seconds']:.1f} s",
    ]
    if results["figure"]:
        lines.append(f"figure written to {results['figure']}")
    return "\n".join(lines)


def _plot(vae, X_test, hidden, imputed, baseline, y_test, path, n_digits=8):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    shown = np.arange(min(n_digits, len(y_test)))
    rows = [
        ("test digits", quadrants_to_images(_rows(X_test, shown))),
        (f"{HIDDEN_QUADRANT.replace('_', ' ')} hidden", quadrants_to_images(_rows(hidden, shown))),
        ("VAE imputation", quadrants_to_images(_rows(imputed, shown))),
    ]
    name, pixels = baseline
    filled = {**_rows(X_test, shown), HIDDEN_QUADRANT: pixels[shown]}
    rows.append((name.split(" ")[0], quadrants_to_images(filled)))
    latent = vae.transform(X_test)
    if latent.shape[1] > 2:
        latent = PCA(n_components=2).fit_transform(latent)

    fig = plt.figure(figsize=(12, 5.6), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.35, 1])
    axes = left.subplots(len(rows), len(shown), squeeze=False)
    cmap = plt.get_cmap("gray_r").with_extremes(bad="tab:red")
    for r, (title, images) in enumerate(rows):
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.imshow(np.ma.masked_invalid(image), cmap=cmap, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(title, fontsize=9)
    left.suptitle("Imputing a hidden quadrant (red) from the other three", fontsize=11)

    ax = right.subplots()
    points = ax.scatter(latent[:, 0], latent[:, 1], c=y_test, cmap="tab10", s=8, vmin=-0.5, vmax=9.5)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    what = "PCA of the latent means" if vae.n_components_ > 2 else "latent means"
    ax.set_title(f"Test digits in the shared latent space\n({what}, all modalities)", fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def build_parser(parser=None):
    """Arguments of ``python -m skmmvae demo``."""
    from .nn import AGGREGATORS, OBJECTIVES

    parser = parser or argparse.ArgumentParser(prog="python -m skmmvae demo")
    parser.add_argument("--epochs", type=_positive_int, default=DEFAULT_EPOCHS,
                        help=f"training epochs (default: {DEFAULT_EPOCHS})")
    parser.add_argument("--aggregation", choices=sorted(AGGREGATORS) + ["auto"], default=DEFAULT_AGGREGATION,
                        help=f"how modality encodings are combined (default: {DEFAULT_AGGREGATION})")
    parser.add_argument("--objective", choices=sorted(OBJECTIVES), default="tight",
                        help="training objective (default: tight, the paper's)")
    parser.add_argument("--output", default="skmmvae_demo.png",
                        help="where to write the figure (default: skmmvae_demo.png)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    return parser


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value
