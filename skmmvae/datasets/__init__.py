"""Synthetic data sets of the paper and a small bundled multi-modal data set.

Every generator returns the observed modalities as a dict ``{name: (n_samples, d_s) array}``,
the format the estimators take. A modality that is missing for a sample is a whole row of NaN
in its block. All randomness comes from the ``random_state`` argument.

The generators follow Hirt et al. (arXiv 2309.00380):

* :func:`make_linear_gaussian`: linear multi-modal Gaussian model (paper section 5.1), whose
  exact likelihood and posterior are available in :mod:`skmmvae.metrics`;
* :func:`make_identifiable_bimodal`: iVAE-style data with the segment label as a second,
  categorical modality (paper section 5.2);
* :func:`make_identifiable_multimodal`: four nonlinear views of shared sources with missing
  modalities (paper section 5.2).

:func:`make_cite_seq` simulates CITE-seq-like single cells: RNA counts with library sizes and
protein counts with a background, some cells measured by RNA only.

:func:`load_digits_modalities` splits scikit-learn's bundled 8x8 digits into four quadrant
modalities plus the label, a quick offline stand-in for image benchmarks.
"""
from ._cite_seq import make_cite_seq
from ._digits import QUADRANTS, load_digits_modalities, quadrants_to_images  # noqa: F401
from ._paper import make_identifiable_bimodal, make_identifiable_multimodal, make_linear_gaussian

__all__ = [
    "make_linear_gaussian",
    "make_identifiable_bimodal",
    "make_identifiable_multimodal",
    "load_digits_modalities",
    "quadrants_to_images",
    "make_cite_seq",
]
