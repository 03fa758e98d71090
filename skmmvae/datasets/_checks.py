"""Argument checks shared by the generators."""
import numbers

import numpy as np


def check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def check_float(name, value, minimum=None, maximum=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}.")
    return value


def segment_sizes(n_samples, n_segments):
    n_samples = check_int("n_samples", n_samples, 1)
    n_segments = check_int("n_segments", n_segments, 1)
    if n_samples < n_segments:
        raise ValueError(
            f"n_samples={n_samples} must be >= n_segments={n_segments}: every segment needs "
            "at least one sample."
        )
    return n_samples // n_segments, n_segments
