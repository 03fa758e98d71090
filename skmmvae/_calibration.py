"""A temperature for the class probabilities of each categorical modality, fitted on the
fit's own validation rows.

``predict_proba`` averages the decoder's class probabilities over draws from ``q(z | x_S)``.
In the quality benchmark those probabilities were too flat on the digits (the best
temperature on the validation rows was about 0.5: the average over the posterior's draws
blurs the classes) and too sharp on the real multiple-features views (about 2.7), and a
label's log-loss was up to twice a logistic regression's at the same accuracy. After
training, each categorical modality gets the temperature ``T`` that minimises the log-loss of
``p ** (1 / T)`` (renormalised) on the validation rows, the label predicted from the other
modalities as ``predict_proba`` predicts it: one number per label, which changes no class
ranking (``predict`` and the argmax of ``predict_proba`` stay as they were).

The log-loss of a few rows rests on their few errors: on breast cancer's 39 validation rows,
with one or two misclassified, the minimum moved between 0.34 and 2.4 from seed to seed and
doubled the test log-loss on one. So a temperature needs ``MIN_CALIBRATION_ROWS`` validation
rows where the label is observed (else it stays 1), and ``log T`` has a normal prior of sd
``PRIOR_SD`` (a maximum a posteriori estimate: the summed log-loss plus ``(log T)**2 / (2
PRIOR_SD**2)``), which keeps it near 1 unless the rows clearly say otherwise.
"""
import numpy as np
import torch
from scipy.optimize import minimize_scalar

from ._net import validation_split

MIN_CALIBRATION_ROWS = 50
PRIOR_SD = 0.5  # of log T
LOG_TEMPERATURE_BOUNDS = (-3.0, 3.0)  # temperatures in [0.05, 20]
_FLOOR = 1e-15  # probabilities clipped in the log-loss, as scikit-learn's log_loss does


def tempered(proba, temperature):
    """``proba ** (1 / temperature)``, each row renormalised (float64)."""
    proba = np.asarray(proba, dtype=np.float64)
    if temperature == 1.0:
        return proba
    with np.errstate(divide="ignore"):
        logits = np.log(proba) / temperature
    logits -= logits.max(1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(1, keepdims=True)


def log_loss_at(proba, codes, temperature):
    """Mean negative log-probability of the classes ``codes`` under ``tempered(proba, T)``."""
    p = tempered(np.clip(proba, _FLOOR, None), temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(codes)), codes], _FLOOR, None))))


def best_temperature(proba, codes, prior_sd=PRIOR_SD):
    """The temperature that minimises the summed :func:`log_loss_at` plus ``(log T)**2 / (2
    prior_sd**2)`` (``prior_sd`` None: the log-loss alone), bounded, on a log scale."""
    penalty = 0.0 if prior_sd is None else 0.5 / prior_sd**2 / len(codes)  # per row
    result = minimize_scalar(lambda t: log_loss_at(proba, codes, float(np.exp(t))) + penalty * t * t,
                             bounds=LOG_TEMPERATURE_BOUNDS, method="bounded",
                             options={"xatol": 1e-4})
    return float(np.exp(result.x))


def fit_temperatures(estimator, tensors):
    """``{categorical modality: temperature}`` of ``estimator`` just trained on ``tensors``
    (the ModalityTensors of its training call), from the validation rows that the training
    held out of them; ``{}`` where there are none to fit on. Only those rows are copied: the
    user's input is not converted again."""
    schema = estimator._schema
    if not schema.categorical:
        return {}
    split = validation_split(len(tensors), estimator._validation_fraction(), estimator._split_seed)
    if split is None or len(split[1]) < MIN_CALIBRATION_ROWS:
        return {}
    valid = tensors.rows(split[1])
    temperatures = {}
    for name in schema.categorical:
        s = schema.names.index(name)
        observed = torch.nonzero(valid.mask[:, s]).squeeze(1)
        if len(observed) < MIN_CALIBRATION_ROWS:
            continue
        given = valid.rows(observed)  # new tensors: the label is hidden in them below
        codes = given.xs[s][:, 0].numpy().astype(np.int64)
        given.xs[s] = torch.zeros_like(given.xs[s])  # as predict_proba sees a label left out
        given.mask[:, s] = False
        proba = estimator._class_probabilities(None, name, converted=given)
        temperatures[name] = best_temperature(proba, codes)
    return temperatures
