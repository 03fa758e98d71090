"""skmmvae: multi-modal variational autoencoders for scikit-learn.

Permutation-invariant aggregation of modality encodings and tighter variational objectives
(Hirt et al., TMLR 2024), behind a scikit-learn estimator trained with skorch.
"""
from ._data import ModalityDict
from ._net import TrainingDivergedError
from ._version import __version__
from .estimator import MultiModalVAE
from .imputer import MultiModalImputer

__all__ = [
    "ModalityDict",
    "MultiModalImputer",
    "MultiModalVAE",
    "TrainingDivergedError",
    "__version__",
]
