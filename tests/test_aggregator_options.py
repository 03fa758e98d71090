"""``aggregator_options``: the aggregation's own options reach it, are checked before training
and survive cloning, pickling and the safe save format."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from skmmvae import MultiModalImputer, MultiModalVAE

from conftest import SMALL, make_data


def fit(**params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MultiModalVAE(**{**SMALL, **params}).fit(make_data())


def test_rank_reaches_the_full_precision_experts():
    vae = fit(aggregation="poe_full", aggregator_options={"rank": 1})
    aggregator = vae.module_.aggregator
    assert aggregator.rank == 1 and aggregator.token_size == 2 * 2 + 2 * 1
    default = fit(aggregation="poe_full").module_.aggregator
    assert default.rank == 2 and default.token_size == 2 * 2 + 2 * 2
    assert vae.transform(make_data()).shape == (80, 2)


def test_an_option_the_aggregation_does_not_take_is_an_error_before_training():
    vae = MultiModalVAE(**SMALL, aggregation="poe", aggregator_options={"rank": 2})
    with pytest.raises(TypeError, match=r"'poe' takes no option 'rank'; its options are none"):
        vae.fit(make_data())
    assert not hasattr(vae, "module_") and not hasattr(vae, "history_")
    with pytest.raises(TypeError, match=r"takes no option 'rnk'; its options are \['rank'\]"):
        MultiModalVAE(**SMALL, aggregator_options={"rnk": 2}).fit(make_data())


@pytest.mark.parametrize("rank", [0, -1, 1.5, True])
def test_a_bad_rank_is_a_value_error(rank):
    with pytest.raises(ValueError, match="rank of 'poe_full' must be a positive integer"):
        MultiModalVAE(**SMALL, aggregator_options={"rank": rank}).fit(make_data())


def test_aggregator_options_must_be_a_dict():
    with pytest.raises(ValueError, match="aggregator_options"):
        MultiModalVAE(**SMALL, aggregator_options=[("rank", 2)]).fit(make_data())


def test_options_survive_clone_pickle_and_save(tmp_path):
    vae = fit(aggregator_options={"rank": 1})
    assert clone(vae).get_params()["aggregator_options"] == {"rank": 1}
    expected = vae.predict(make_data())
    for restored in (pickle.loads(pickle.dumps(vae)), None):
        if restored is None:
            vae.save(tmp_path / "model.zip")
            restored = MultiModalVAE.load(tmp_path / "model.zip")
        assert restored.aggregator_options == {"rank": 1}
        assert restored.module_.aggregator.rank == 1
        got = restored.predict(make_data())
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name])


def test_the_imputer_passes_them_on():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imputer = MultiModalImputer(**SMALL, aggregator_options={"rank": 1}).fit(make_data())
    assert imputer.module_.aggregator.rank == 1
