"""Network widths and expert ranks that follow the number of modalities ("auto")."""
import numpy as np
import pytest

from skmmvae import MultiModalVAE
from skmmvae._sizes import auto_rank, auto_width


def _many(n_modalities, n=60, features=3, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return {f"m{i}": z @ rng.normal(size=(2, features)) + 0.1 * rng.normal(size=(n, features))
            for i in range(n_modalities)}


def test_up_to_eight_modalities_keep_the_full_sizes():
    for m in range(1, 9):
        assert auto_width(m) == 128 and auto_rank(m, 12) == 12


@pytest.mark.parametrize("m, width, rank", [(9, 112, 11), (10, 104, 10), (12, 88, 8), (16, 64, 6),
                                            (32, 32, 3), (64, 32, 2), (1000, 32, 1)])
def test_beyond_eight_the_total_stays_that_of_eight(m, width, rank):
    # width 128 * 8 / m to a multiple of 8, at least 32; rank ceil(12 * 8 / m), at least 1
    assert auto_width(m) == width and auto_rank(m, 12) == rank


def test_defaults_resolve_from_the_modalities_and_are_reported():
    few = MultiModalVAE(n_components=4, max_epochs=1, random_state=0).fit(_many(3))
    assert few.hidden_layer_sizes_ == (128, 128) and few.embedding_size_ == 128
    assert few.module_.aggregator.rank == 4  # full rank
    many = MultiModalVAE(n_components=12, max_epochs=1, random_state=0).fit(_many(12))
    assert many.hidden_layer_sizes_ == (88, 88) and many.embedding_size_ == 88
    assert many.module_.aggregator.rank == 8 and many.module_.aggregator.token_size == 2 * 12 + 12 * 8
    linears = [m for m in many.module_.modules() if type(m).__name__ == "Linear"]
    stacked = [p for n, p in many.module_.named_parameters() if "stack" in n and p.dim() == 3]
    widths = {w.shape[0] for w in (l.weight for l in linears)} | {p.shape[-1] for p in stacked}
    assert 88 in widths and 128 not in widths
    assert np.isfinite(many.transform(_many(12))).all()


def test_explicit_sizes_and_rank_win():
    est = MultiModalVAE(n_components=6, hidden_layer_sizes=(16,), embedding_size=24, max_epochs=1,
                        aggregator_options={"rank": 6}, random_state=0).fit(_many(12))
    assert est.hidden_layer_sizes_ == (16,) and est.embedding_size_ == 24
    assert est.module_.aggregator.rank == 6
    other = MultiModalVAE(n_components=6, aggregation="poe", max_epochs=1, random_state=0).fit(_many(12))
    assert other.hidden_layer_sizes_ == (88, 88)  # the width rule applies to every aggregation


def test_an_auto_sized_model_saves_and_loads(tmp_path):
    X = _many(12)
    est = MultiModalVAE(n_components=4, max_epochs=2, random_state=0).fit(X)
    est.save(tmp_path / "m.zip")
    loaded = MultiModalVAE.load(tmp_path / "m.zip")
    assert loaded.hidden_layer_sizes_ == (88, 88) and loaded.get_params()["hidden_layer_sizes"] == "auto"
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


@pytest.mark.parametrize("bad", [{"hidden_layer_sizes": "wide"}, {"embedding_size": "auto128"}])
def test_other_strings_are_invalid(bad):
    with pytest.raises(ValueError, match=list(bad)[0]):
        MultiModalVAE(**bad).fit(_many(2))


@pytest.mark.parametrize("m, d, columns, rank", [
    (6, 24, 191, 24), (6, 24, 192, 12), (6, 12, 649, 12), (6, 16, 649, 12), (3, 4, 649, 4),
    (12, 24, 100, 16), (12, 24, 649, 12), (64, 24, 640, 3)])
def test_the_expert_rank_is_capped_at_twelve_on_wide_data(m, d, columns, rank):
    # full up to 8 modalities, ceil(d * 8 / m) beyond; at most 12 from 192 columns on
    assert auto_rank(m, d, columns) == rank


def _wide(n=300, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3))
    return {f"m{i}": z @ rng.normal(size=(3, 70)) for i in range(3)}  # 210 columns


def test_a_24_dimensional_fit_on_wide_data_has_experts_of_rank_12():
    wide = MultiModalVAE(n_components=24, max_epochs=1, random_state=0).fit(_wide())
    assert wide.module_.aggregator.rank == 12
    assert wide.module_.aggregator.token_size == 2 * 24 + 24 * 12
    narrow = MultiModalVAE(n_components=24, max_epochs=1, random_state=0).fit(_many(3))
    assert narrow.module_.aggregator.rank == 24
    full = MultiModalVAE(n_components=24, max_epochs=1, aggregator_options={"rank": None},
                         random_state=0).fit(_wide())
    assert full.module_.aggregator.rank == 24
