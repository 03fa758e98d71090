"""Estimators fitted and scored in threads of one process give what they give alone, and leave
the caller's torch random state alone (torch's RNG and thread count are process-wide: the
package's seeded blocks take turns)."""
import threading

import numpy as np
import torch
from conftest import SMALL, make_data

from skmmvae import MultiModalVAE


def _fit_and_score(seed, out):
    X = make_data(seed=seed)
    vae = MultiModalVAE(**{**SMALL, "max_epochs": 4, "random_state": seed}).fit(X)
    out[seed] = (np.concatenate([p.detach().cpu().numpy().ravel() for p in vae.module_.parameters()]),
                 vae.score_samples(X), vae.sample_posterior(X, n_samples=2))


def test_fits_in_threads_match_fits_alone():
    alone = {}
    for seed in range(4):
        _fit_and_score(seed, alone)
    threaded = {}
    threads = [threading.Thread(target=_fit_and_score, args=(seed, threaded)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in range(4):
        for a, b in zip(alone[seed], threaded[seed]):
            np.testing.assert_array_equal(a, b)


def test_the_callers_random_state_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    MultiModalVAE(**SMALL).fit(make_data()).score_samples(make_data())
    np.testing.assert_array_equal(torch.rand(3), expected)
