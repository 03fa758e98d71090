"""Wide latent spaces: ``aggregation="auto"`` (the full-precision product of experts up to 24
latent dimensions, the diagonal one beyond), ``encoder_skip="auto"`` and ``decoder_skip="auto"``
(the linear paths of a latent space wider than 24, with few rows or many) and the wide
candidate that ``n_components="auto"`` adds for wide data."""
import json
import pickle
import warnings
import zipfile

import numpy as np
import pytest
import torch

from skmmvae import MultiModalImputer, MultiModalVAE, _latent_size, _wide_latent
from skmmvae._persistence import METADATA, WEIGHTS
from skmmvae.metrics import cross_modal_imputation_error
from skmmvae.nn.networks import SkipMLP

FAST = dict(hidden_layer_sizes=(8,), embedding_size=8, max_epochs=2, random_state=0)


def _views(n, widths=(6, 5, 4), seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return {f"v{k}": z @ rng.normal(size=(2, d)) + 0.1 * rng.normal(size=(n, d))
            for k, d in enumerate(widths)}  # 15 columns


def _quiet_fit(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X)


def _encoder_paths(est):
    """Whether each modality's built-in encoder has the linear path, from the weights."""
    state = est.module_.state_dict()
    return [any(key.startswith(f"encoders.{i}.skip.") for key in state) for i in range(len(est.modality_names_))]


@pytest.mark.parametrize("n_components, n_rows, aggregation, skip, decoder_skip", [
    (24, 40, "poe_full", False, True),   # up to 24 dimensions: as before
    (24, 15, "poe_full", False, False),  # as many rows as the 15 columns: plain decoders
    (25, 40, "poe", True, True),         # wider: both linear paths
    (25, 15, "poe", True, True),         # wider, as many rows as columns: both as well
])
def test_auto_rules_follow_the_latent_size_and_the_rows(n_components, n_rows, aggregation, skip,
                                                         decoder_skip):
    est = _quiet_fit(MultiModalVAE(n_components=n_components, **FAST), _views(n_rows))
    assert (est.aggregation, est.encoder_skip) == ("auto", "auto")  # parameters left as given
    assert est.aggregation_ == aggregation and est.encoder_skip_ is skip
    assert est.decoder_skip_ is decoder_skip
    assert est._fitted_architecture()["aggregation"] == aggregation
    assert type(est.module_.aggregator).__name__ == {"poe": "ProductOfExperts",
                                                       "poe_full": "FullProductOfExperts"}[aggregation]
    assert _encoder_paths(est) == [skip] * 3


@pytest.mark.parametrize("n_components, wide_columns, decay", [
    (24, 8, 0.0),   # a narrow latent space on wide data: no decay with these rows
    (25, 8, 1.0),   # a wide one on wide data: decays
    (25, 16, 0.0),  # a wide one on data of fewer columns than wide data have: none
])
def test_auto_weight_decay_decays_a_wide_latent_space_on_wide_data_whatever_the_rows(
        n_components, wide_columns, decay, monkeypatch):
    # 150 rows of 15 columns: neither small data nor fewer rows than columns, so only the
    # wide architecture on data of at least WIDE_MIN_COLUMNS columns decays
    monkeypatch.setattr(_wide_latent, "WIDE_MIN_COLUMNS", wide_columns)
    est = _quiet_fit(MultiModalVAE(n_components=n_components, **FAST), _views(150))
    assert est.weight_decay == "auto" and est.weight_decay_ == decay
    assert type(est.net_.optimizer_) is (torch.optim.AdamW if decay else torch.optim.Adam)
    assert all(group["weight_decay"] == decay for group in est.net_.optimizer_.param_groups)
    assert MultiModalVAE(n_components=n_components)._resolved_weight_decay() == 0.0  # unfitted


@pytest.mark.parametrize("n_components", [12, 25])
def test_auto_fits_the_model_the_explicit_choices_fit(n_components):
    X = _views(40)
    auto = _quiet_fit(MultiModalVAE(n_components=n_components, **FAST), X)
    wide = n_components > 24
    explicit = _quiet_fit(MultiModalVAE(n_components=n_components, aggregation="poe" if wide else "poe_full",
                                        encoder_skip=wide, **FAST), X)
    given = {"v0": X["v0"]}
    np.testing.assert_array_equal(auto.predict(given)["v1"], explicit.predict(given)["v1"])


def test_auto_leaves_the_other_aggregations_as_they_were():
    """The path was measured with the products of experts only: a permutation-invariant
    aggregation above 24 dimensions (the paper's T1 set-up has 30) keeps plain encoders."""
    est = _quiet_fit(MultiModalVAE(n_components=25, aggregation="sumpooling", **FAST), _views(40))
    assert est.aggregation_ == "sumpooling" and est.encoder_skip_ is False
    assert _encoder_paths(est) == [False] * 3
    est = _quiet_fit(MultiModalVAE(n_components=25, aggregation="poe_full", **FAST), _views(40))
    assert est.encoder_skip_ is True and _encoder_paths(est) == [True] * 3


def test_an_explicit_choice_is_kept():
    est = _quiet_fit(MultiModalVAE(n_components=25, aggregation="poe_full", encoder_skip=False,
                                   aggregator_options={"rank": 2}, **FAST), _views(40))
    assert est.aggregation_ == "poe_full" and est.encoder_skip_ is False
    est = _quiet_fit(MultiModalVAE(n_components=2, encoder_skip=True, **FAST), _views(10))
    assert est.encoder_skip_ is True and _encoder_paths(est) == [True] * 3


def test_the_linear_path_is_an_independent_linear_map_of_the_input():
    """Each encoder's output is its MLP's plus ``x @ W`` (checked against the layers), and the
    stacked computation of training gives the tokens of the per-modality networks of
    evaluation."""
    est = _quiet_fit(MultiModalVAE(n_components=25, **FAST), _views(40))
    module = est.module_
    x = torch.randn(7, 6)
    encoder = module.encoders[0]
    assert isinstance(encoder, SkipMLP) and encoder.skip.bias is None
    with torch.no_grad():
        torch.testing.assert_close(encoder(x), encoder.body(x) + x @ encoder.skip.weight.T)
        assert not torch.allclose(encoder.body(x), encoder(x))  # the path does something
        xs = [torch.randn(7, d) for d in (6, 5, 4)]
        mask = torch.ones(7, 3, dtype=torch.bool)
        module.eval()
        evaluation = module.tokens(xs, mask)
        module.train()
        training = module.tokens(xs, mask)
        module.eval()
    torch.testing.assert_close(training, evaluation)


def test_the_wide_candidate_is_tried_on_wide_data_and_its_rules_apply(monkeypatch):
    """Small stand-ins for the sizes: AUTO_SIZES (1, 2), wide data from 8 columns, one latent
    dimension per 4 columns (15 columns: 8), 'narrow' up to 2 dimensions."""
    monkeypatch.setattr(_latent_size, "AUTO_SIZES", (1, 2))
    monkeypatch.setattr(_wide_latent, "WIDE_MIN_COLUMNS", 8)
    monkeypatch.setattr(_wide_latent, "COLUMNS_PER_DIMENSION", 1)
    monkeypatch.setattr(_wide_latent, "NARROW_LATENT", 2)
    X = _views(200)
    auto = _quiet_fit(MultiModalVAE(**FAST), X)
    sizes = auto.latent_selection_["n_components"]
    assert sizes == [1, 2, 8]
    # each candidate is the model of its size fitted alone (with the same random_state), and
    # its recorded error the package's metric on the validation rows
    errors = []
    for size in sizes:
        alone = _quiet_fit(MultiModalVAE(n_components=size, **FAST), X)
        assert (alone.aggregation_, alone.encoder_skip_) == (("poe", True) if size == 8 else ("poe_full", False))
        order = torch.randperm(200, generator=torch.Generator().manual_seed(alone._split_seed)).numpy()
        rows = order[:20]
        errors.append(cross_modal_imputation_error(alone, {k: v[rows] for k, v in X.items()}))
    np.testing.assert_allclose(auto.latent_selection_["validation_error"], errors, rtol=1e-12)
    chosen = sizes[int(np.argmin(errors))]
    assert auto.n_components_ == chosen
    assert auto.aggregation_ == ("poe" if chosen == 8 else "poe_full")


class _AnyWidth(torch.nn.Module):
    """A decoder that takes latent codes of any size."""

    def __init__(self, out_features):
        super().__init__()
        self.linear = torch.nn.Linear(1, out_features)

    def forward(self, z):
        return self.linear(z.sum(-1, keepdim=True))


@pytest.mark.parametrize("case", ["narrow", "narrow modalities", "aggregation given",
                                  "options given", "decoders given"])
def test_no_wide_candidate_otherwise(monkeypatch, case):
    """The stand-ins of the test above, under which these data (15 columns of modalities of 6,
    5 and 4) are wide, but for the one condition each case breaks."""
    monkeypatch.setattr(_latent_size, "AUTO_SIZES", (1, 2))
    monkeypatch.setattr(_wide_latent, "WIDE_MIN_COLUMNS", 16 if case == "narrow" else 8)
    monkeypatch.setattr(_wide_latent, "COLUMNS_PER_DIMENSION", 1)
    # the widest modality's relation to the others has rank at most 6
    monkeypatch.setattr(_wide_latent, "NARROW_LATENT", 6 if case == "narrow modalities" else 2)
    params = dict(FAST, validation_fraction=0.1)
    if case == "aggregation given":
        params["aggregation"] = "poe_full"
    if case == "options given":  # poe_full's: the wide size's "poe" takes none
        params["aggregator_options"] = {"rank": 1}
    if case == "decoders given":
        params["decoders"] = {"v0": _AnyWidth(12)}
    est = _quiet_fit(MultiModalVAE(**params), _views(120))
    assert est.latent_selection_["n_components"] == [1, 2]


def test_the_wide_candidate_is_tried_with_fewer_rows_than_columns_with_its_linear_paths(monkeypatch):
    """As many training rows as the 15 columns (15 rows, 10 of them held out): the wide size is
    tried as well, with both linear paths and the weight decay of such data, while the
    narrow sizes keep plain decoders."""
    monkeypatch.setattr(_latent_size, "AUTO_SIZES", (1, 2))
    monkeypatch.setattr(_latent_size, "MIN_SELECTION_ROWS", 2)
    monkeypatch.setattr(_wide_latent, "WIDE_MIN_COLUMNS", 8)
    monkeypatch.setattr(_wide_latent, "COLUMNS_PER_DIMENSION", 1)
    monkeypatch.setattr(_wide_latent, "NARROW_LATENT", 2)
    X = _views(15)
    est = _quiet_fit(MultiModalVAE(**dict(FAST, validation_fraction=0.2, early_stopping=True)), X)
    assert est.latent_selection_["n_components"] == [1, 2, 8]
    for size in (1, 2, 8):
        alone = _quiet_fit(MultiModalVAE(n_components=size, **dict(FAST, validation_fraction=0.2,
                                                                     early_stopping=True)), X)
        assert alone.weight_decay_ == 1.0
        assert (alone.encoder_skip_, alone.decoder_skip_) == ((True, True) if size == 8 else (False, False))


def test_wide_size_rule():
    mfeat = [76, 216, 64, 240, 47, 6, 10]  # the UCI multiple-features views + label
    assert _wide_latent.wide_size(mfeat) == 128
    assert _wide_latent.wide_size([76, 216, 64, 240, 47, 6]) == 128
    assert _wide_latent.wide_size([100, 100]) == 48
    assert _wide_latent.wide_size([100, 91]) is None  # too few columns
    # no modality whose relation to the others can have a rank above 24: many narrow views,
    # or one wide view beside narrow ones
    assert _wide_latent.wide_size([10] * 64) is None
    assert _wide_latent.wide_size([400, 12, 12]) is None
    assert _wide_latent.wide_size([400, 25]) == 104
    assert _wide_latent.auto_aggregation(24) == "poe_full" and _wide_latent.auto_aggregation(25) == "poe"
    assert _wide_latent.auto_encoder_skip(25, "poe") is True
    assert _wide_latent.auto_encoder_skip(25, "poe_full") is True
    assert _wide_latent.auto_encoder_skip(24, "poe") is False
    assert _wide_latent.auto_encoder_skip(25, "sumpooling") is False
    assert _wide_latent.auto_decoder_skip(25, False) is True
    assert _wide_latent.auto_decoder_skip(24, False) is False
    assert _wide_latent.auto_decoder_skip(24, True) is True
    assert MultiModalVAE(n_components=25)._resolved_encoder_skip() is True  # before a fit


def test_imputer_resolves_them_alike():
    X = np.hstack(list(_views(40).values()))
    X[0, 3] = np.nan
    imp = _quiet_fit(MultiModalImputer(n_components=25, **FAST), X)
    assert imp.aggregation_ == "poe" and imp.encoder_skip_ is True


@pytest.fixture(scope="module")
def wide_model():
    return _quiet_fit(MultiModalVAE(n_components=25, **FAST), _views(40))


def test_save_load_and_pickle_keep_the_architecture(wide_model, tmp_path):
    path = tmp_path / "m.skmmvae"
    wide_model.save(path)
    given = {"v0": _views(40)["v0"]}
    for copy in (MultiModalVAE.load(path), pickle.loads(pickle.dumps(wide_model))):
        assert copy.aggregation_ == "poe" and copy.encoder_skip_ is True
        assert copy.aggregation == "auto" and copy.encoder_skip == "auto"
        np.testing.assert_array_equal(copy.predict(given)["v1"], wide_model.predict(given)["v1"])


def _rewritten(est, tmp_path, change):
    source, target = tmp_path / "a.skmmvae", tmp_path / "b.skmmvae"
    est.save(source)
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == METADATA:
                metadata = json.loads(data)
                change(metadata)
                data = json.dumps(metadata).encode()
            zout.writestr(item, data)
    return target


def test_load_refuses_contradicting_or_unresolved_records(wide_model, tmp_path):
    def fitted(metadata):
        metadata["attributes"]["aggregation_"] = "poe_full"
    with pytest.raises(ValueError, match="aggregation_ poe_full differs from the recorded architecture"):
        MultiModalVAE.load(_rewritten(wide_model, tmp_path, fitted))

    def skip(metadata):
        metadata["attributes"]["encoder_skip_"] = False
    with pytest.raises(ValueError, match="encoder_skip_ False differs from the recorded architecture"):
        MultiModalVAE.load(_rewritten(wide_model, tmp_path, skip))

    def unresolved(metadata):
        metadata["attributes"]["_architecture"]["aggregation"] = "auto"
    with pytest.raises(ValueError, match="aggregation must be a fitted aggregation"):
        MultiModalVAE.load(_rewritten(wide_model, tmp_path, unresolved))

    for value in ("nonsense", ["poe"], {"poe": 1}):  # JSON arrays and objects are unhashable
        def bad(metadata):
            metadata["attributes"]["aggregation_"] = value
        with pytest.raises(ValueError, match="aggregation_ must be one of"):
            MultiModalVAE.load(_rewritten(wide_model, tmp_path, bad))


def test_a_file_from_before_encoder_skip_loads_without_the_path(tmp_path):
    """An earlier release recorded no encoder_skip (nor the fitted attributes): its encoders
    had no linear path, and such a file loads as it was."""
    est = _quiet_fit(MultiModalVAE(n_components=3, **FAST), _views(40))

    def earlier(metadata):
        metadata["attributes"]["_architecture"].pop("encoder_skip")
        for name in ("encoder_skip_", "aggregation_"):
            metadata["attributes"].pop(name)
    copy = MultiModalVAE.load(_rewritten(est, tmp_path, earlier))
    assert copy.encoder_skip_ is False and copy.aggregation_ == "poe_full"
    given = {"v0": _views(40)["v0"]}
    np.testing.assert_array_equal(copy.predict(given)["v1"], est.predict(given)["v1"])


def test_a_weight_file_with_the_path_but_metadata_without_it_is_refused(wide_model, tmp_path):
    def without(metadata):
        metadata["attributes"]["_architecture"]["encoder_skip"] = False
        metadata["attributes"]["encoder_skip_"] = False
    with pytest.raises(ValueError, match="encoder_skip"):
        MultiModalVAE.load(_rewritten(wide_model, tmp_path, without))


def test_changing_it_after_the_fit_warns_at_partial_fit(wide_model):
    import copy

    est = copy.deepcopy(wide_model).set_params(encoder_skip=False)
    with pytest.warns(UserWarning, match="encoder_skip changed since the fit"):
        est.partial_fit(_views(40))
    assert est.encoder_skip_ is True  # trained on as fitted


def test_aggregator_options_keep_the_full_product_at_any_size():
    """``aggregator_options`` are the options of "poe_full" ("poe" takes none): "auto" keeps it
    wherever they are given, as the default "poe_full" did at every size before "auto"."""
    est = _quiet_fit(MultiModalVAE(n_components=25, aggregator_options={"rank": 2}, **FAST), _views(40))
    assert est.aggregation_ == "poe_full" and est.module_.aggregator.rank == 2
    assert est.encoder_skip_ is True  # the latent size's rule, whatever the aggregation
    assert _quiet_fit(MultiModalVAE(n_components=25, aggregator_options={}, **FAST),
                      _views(40)).aggregation_ == "poe"  # no options: the size's rule


@pytest.mark.parametrize("n_components", [12, 25, "auto"])
def test_a_mixture_prior_with_the_default_aggregation_names_auto(n_components):
    """A user who never set ``aggregation`` learns that its default, not an aggregation they
    did not choose, is what does not go with the mixture prior, before any training."""
    est = MultiModalVAE(n_components=n_components, n_prior_components=3, **FAST)
    with pytest.raises(ValueError, match=r"aggregation='auto' \(the default\) is a product of "
                                         r"experts.*n_prior_components=3.*'sumpooling'"):
        est.fit(_views(40))
    assert not hasattr(est, "module_")
    # a permutation-invariant aggregation takes the mixture prior
    _quiet_fit(MultiModalVAE(n_prior_components=3, aggregation="sumpooling", **FAST), _views(40))


def test_verbose_announces_the_wide_size(monkeypatch, capsys):
    """The first line counts the sizes known before the data were seen ("1 of 2"): the wide
    size is announced where it is added, so that "2 of 3" follows from what was said."""
    monkeypatch.setattr(_latent_size, "AUTO_SIZES", (1, 2))
    monkeypatch.setattr(_wide_latent, "WIDE_MIN_COLUMNS", 8)
    monkeypatch.setattr(_wide_latent, "COLUMNS_PER_DIMENSION", 1)
    monkeypatch.setattr(_wide_latent, "NARROW_LATENT", 2)
    _quiet_fit(MultiModalVAE(**dict(FAST, max_epochs=1, verbose=1)), _views(100))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("n_components='auto'")]
    assert lines[:4] == [
        "n_components='auto': fitting 1 latent dimensions (1 of 2)",
        "n_components='auto': wide data (15 columns, 100 rows): trying 8 latent dimensions as well",
        "n_components='auto': fitting 2 latent dimensions (2 of 3)",
        "n_components='auto': fitting 8 latent dimensions (3 of 3)",
    ]
    assert "(8); keeping" in lines[4]
