"""Categorical modalities given as string labels (object or str arrays, DataFrame columns).

The reference for every check is the same data with the labels replaced by their integer codes
in sorted order (``setosa`` -> 0, ``versicolor`` -> 1, ``virginica`` -> 2), which the
estimator already handled: string labels must give exactly the same model, and every label
they return must be the class name of the code the numeric model returns.
"""
import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL, make_data

from skmmvae import MultiModalVAE

CLASSES = np.array(["setosa", "versicolor", "virginica"], dtype=object)
PARAMS = dict(likelihoods={"species": "categorical"}, **SMALL)


def _labelled(missing=True):
    data = make_data()
    signal = np.nan_to_num(data["a"][:, 0]) + np.nan_to_num(data["b"][:, 0])
    codes = np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))  # three classes
    labels = CLASSES[codes]  # an object array of str
    numeric = codes.astype(float)
    if missing:
        labels[20:24] = None
        labels[24] = np.nan
        numeric[20:25] = np.nan
    return {**data, "species": labels}, {**data, "species": numeric[:, None]}


@pytest.fixture(scope="module")
def models():
    strings, numbers = _labelled()
    return (MultiModalVAE(**PARAMS).fit(strings), strings, MultiModalVAE(**PARAMS).fit(numbers), numbers)


def _as_names(numeric_block):
    return CLASSES[numeric_block.ravel().astype(int)]


def test_string_labels_train_the_same_model_as_their_codes(models):
    est, strings, reference, numbers = models
    np.testing.assert_array_equal(est.categories_["species"], CLASSES)
    np.testing.assert_array_equal(reference.categories_["species"], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(est.transform(strings), reference.transform(numbers))
    np.testing.assert_array_equal(est.score_samples(strings), reference.score_samples(numbers))


def test_predict_fills_missing_labels_with_class_names(models):
    est, strings, reference, numbers = models
    imputed = est.predict(strings)["species"]
    assert imputed.dtype == object and imputed.shape == (80,)  # the shape passed in
    np.testing.assert_array_equal(imputed.ravel(), _as_names(reference.predict(numbers)["species"]))
    observed = np.array([v is not None and v == v for v in strings["species"]])
    np.testing.assert_array_equal(imputed.ravel()[observed], strings["species"][observed])
    assert strings["species"][20] is None  # the user's array is untouched


def test_a_left_out_label_modality_is_imputed_as_labels(models):
    est, strings, reference, numbers = models
    without = {name: block for name, block in strings.items() if name != "species"}
    imputed = est.predict(without)["species"]
    expected = reference.predict({k: v for k, v in numbers.items() if k != "species"})["species"]
    np.testing.assert_array_equal(imputed.ravel(), _as_names(expected))


def test_generated_labels_are_class_names(models):
    est, strings, reference, numbers = models
    Z = est.transform(strings)[:10]
    np.testing.assert_array_equal(est.inverse_transform(Z)["species"].ravel(),
                                  _as_names(reference.inverse_transform(Z)["species"]))
    assert set(est.sample(20)[0]["species"].ravel()) <= set(CLASSES)


def test_str_dtype_labels_without_missing_values():
    strings, numbers = _labelled(missing=False)
    strings["species"] = strings["species"].astype(str)  # dtype <U10
    est = MultiModalVAE(**PARAMS).fit(strings)
    reference = MultiModalVAE(**PARAMS).fit(numbers)
    np.testing.assert_array_equal(est.transform(strings), reference.transform(numbers))


def test_dataframe_with_a_string_column(models):
    est, strings, _, _ = models
    frame = pd.DataFrame(np.hstack([strings["a"], strings["b"]]),
                         columns=[f"a{i}" for i in range(4)] + [f"b{i}" for i in range(3)])
    frame["species"] = pd.Series(strings["species"], dtype=object)
    modalities = {"a": [f"a{i}" for i in range(4)], "b": [f"b{i}" for i in range(3)], "species": ["species"]}
    on_frame = MultiModalVAE(modalities=modalities, **PARAMS).fit(frame)
    np.testing.assert_array_equal(on_frame.transform(frame), est.transform(strings))
    imputed = on_frame.predict(frame)
    assert isinstance(imputed, pd.DataFrame) and list(imputed.columns) == list(frame.columns)
    np.testing.assert_array_equal(imputed["species"].to_numpy(dtype=object),
                                  est.predict(strings)["species"].ravel())
    on_dict = est.predict(strings)
    np.testing.assert_array_equal(imputed.iloc[:, :7].to_numpy(dtype=float),
                                  np.hstack([on_dict["a"], on_dict["b"]]))
    assert (imputed.dtypes.iloc[:7] == np.float64).all()
    generated = on_frame.inverse_transform(on_frame.transform(frame)[:5])
    assert generated.shape == (5, 8) and set(generated[:, -1]) <= set(CLASSES)


@pytest.mark.parametrize("how", ["pickle", "save"])
def test_string_labels_survive_persistence(models, how, tmp_path):
    est, strings, _, _ = models
    if how == "pickle":
        loaded = pickle.loads(pickle.dumps(est))
    else:
        est.save(tmp_path / "model.zip")
        loaded = MultiModalVAE.load(tmp_path / "model.zip")
    np.testing.assert_array_equal(loaded.predict(strings)["species"], est.predict(strings)["species"])
    with pytest.raises(ValueError, match="unseen categories"):
        loaded.transform({**strings, "species": np.array(["rose"] * 80, dtype=object)})


def test_the_imputer_fills_a_string_label_column_of_a_dataframe():
    from skmmvae import MultiModalImputer

    strings, _ = _labelled()
    frame = pd.DataFrame(np.hstack([strings["a"], strings["b"]]), columns=list("abcdefg"))
    frame["species"] = pd.Series(strings["species"], dtype=object)
    imputer = MultiModalImputer(modalities={"a": list("abcd"), "b": list("efg"), "species": ["species"]},
                                **PARAMS)
    filled = imputer.fit_transform(frame)
    assert not filled.isna().any().any()
    assert set(filled["species"]) <= set(CLASSES)
    assert frame["species"].isna().sum() == 5  # the input is untouched


def test_cross_validation_with_string_labels():
    from sklearn.model_selection import cross_val_score

    from skmmvae import ModalityDict

    strings, numbers = _labelled()
    scores = cross_val_score(MultiModalVAE(**PARAMS), ModalityDict(strings), cv=2)
    reference = cross_val_score(MultiModalVAE(**PARAMS), ModalityDict(numbers), cv=2)
    np.testing.assert_array_equal(scores, reference)  # same folds, same models, same scores


@pytest.mark.parametrize("container", ["str", "object", "series"])
def test_labels_that_look_like_numbers_stay_strings(container):
    """String labels such as "1", "2" are class names whatever holds them: an object array or
    a pandas Series gives the classes and predictions of a numpy str array (they were parsed
    as floats, so that predict returned 1.0 for "1", and an object array with None for the
    missing labels of a model fitted on a str array was refused as numeric)."""
    data = make_data(missing=False)
    labels = np.where(data["a"][:, 0] > 0, "1", "2")
    y = {"str": labels, "object": labels.astype(object), "series": pd.Series(labels)}[container]
    est = MultiModalVAE(**PARAMS).fit({"a": data["a"], "species": y})
    reference = MultiModalVAE(**PARAMS).fit({"a": data["a"], "species": labels})
    np.testing.assert_array_equal(est.categories_["species"], np.array(["1", "2"], dtype=object))
    np.testing.assert_array_equal(est.transform({"a": data["a"], "species": y}),
                                  reference.transform({"a": data["a"], "species": labels}))
    with_missing = labels.astype(object)
    with_missing[:5] = None
    for model in (est, reference):
        imputed = np.asarray(model.predict({"a": data["a"], "species": with_missing})["species"]).ravel()
        assert set(imputed) <= {"1", "2"}
        np.testing.assert_array_equal(imputed[5:], labels[5:])
    with pytest.raises(TypeError, match="all numbers or all strings"):
        MultiModalVAE(**PARAMS).fit({"a": data["a"], "species": np.array([1, "2"] * 40, dtype=object)})
