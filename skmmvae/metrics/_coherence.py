"""Cross-modal generation: coherence of generated modalities.

See :mod:`skmmvae.metrics`.
"""
import numpy as np
from sklearn.metrics import accuracy_score


def cross_modal_coherence(classifier, X_generated, y_true):
    """Coherence of generated samples: accuracy of a pre-trained classifier on them.

    The paper's conditional-generation coherence (following MMVAE / MoPoE): generate a
    modality from other modalities, classify the generated samples with a classifier
    trained on real data of that modality, and report the fraction whose predicted label
    equals the label of the conditioning sample.

    Parameters
    ----------
    classifier : fitted estimator
        Any object with a ``predict`` method accepting ``X_generated`` (an array, or a dict
        of modalities for multi-modal classifiers).
    X_generated : array-like or dict of str to array-like
        Generated samples, passed to ``classifier.predict`` unchanged.
    y_true : array-like of shape (n_samples,) or (n_samples, 1)
        Labels of the samples the generation was conditioned on.

    Returns
    -------
    float
        Coherence, the accuracy in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmmvae.metrics import cross_modal_coherence
    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = LogisticRegression().fit(x, [0, 0, 1, 1])
    >>> cross_modal_coherence(clf, np.array([[0.2], [2.9]]), [0, 0])
    0.5
    """
    if not callable(getattr(classifier, "predict", None)):
        raise TypeError(f"classifier must have a predict method, got "
                        f"{type(classifier).__name__}.")
    y_true = np.asarray(y_true)
    if y_true.ndim == 2 and y_true.shape[1] == 1:
        y_true = y_true[:, 0]
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be 1-D (or a single column), got shape {y_true.shape}.")
    y_pred = np.asarray(classifier.predict(X_generated))
    y_pred = y_pred.reshape(y_pred.shape[0], -1)[:, 0] if y_pred.ndim == 2 else y_pred
    if y_pred.shape != y_true.shape:
        raise ValueError(f"The classifier returned {y_pred.shape[0]} predictions for "
                         f"{y_true.shape[0]} labels.")
    return float(accuracy_score(y_true, y_pred))
