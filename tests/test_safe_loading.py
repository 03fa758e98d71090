"""``load`` on hostile files: bounded inflation, a strict metadata schema, sizes checked early."""
import io
import json
import struct
import warnings
import zipfile

import numpy as np
import pytest
import torch
from conftest import SMALL, make_data

from skmmvae import MultiModalVAE
from skmmvae import _persistence


class _Touched(BaseException):
    """Raised by a patched function that load must not reach (not an Exception: load's
    own error handling cannot turn it into a ValueError)."""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A valid model file, its metadata and its weights file (bytes)."""
    path = tmp_path_factory.mktemp("saved") / "model.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MultiModalVAE(**SMALL).fit(make_data()).save(path)
    with zipfile.ZipFile(path) as archive:
        return path, json.loads(archive.read("metadata.json")), archive.read("weights.pt")


def _archive(path, members):
    """A zip of ``(name, bytes, compress_type)`` members, in that order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w") as archive:
            for name, data, compress_type in members:
                archive.writestr(name, data, compress_type=compress_type)
    return path


def _members(saved, metadata=None):
    _, good, weights = saved
    text = json.dumps(good if metadata is None else metadata).encode()
    return [("metadata.json", text, zipfile.ZIP_DEFLATED), ("weights.pt", weights, zipfile.ZIP_STORED)]


def _tampered(tmp_path, saved, change):
    metadata = json.loads(json.dumps(saved[1]))
    change(metadata)
    return _archive(tmp_path / "tampered.zip", _members(saved, metadata))


def _declare_size(blob, name, size):
    """``blob`` (a zip) with the central directory declaring ``size`` inflated bytes for ``name``."""
    blob = bytearray(blob)
    start = 0
    while True:
        start = blob.index(b"PK\x01\x02", start)
        (name_length,) = struct.unpack_from("<H", blob, start + 28)
        if bytes(blob[start + 46 : start + 46 + name_length]) == name.encode():
            struct.pack_into("<I", blob, start + 24, size)
            return bytes(blob)
        start += 4


@pytest.fixture
def nothing_inflated(monkeypatch):
    """Fail if load opens any archive member for reading."""
    original = zipfile.ZipFile.open

    def refuse(self, name, mode="r", *args, **kwargs):
        if mode == "r":
            raise _Touched("a member was inflated")
        return original(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", refuse)


@pytest.fixture
def no_weights_loaded(monkeypatch):
    """Fail if load gets as far as loading weights into a network."""

    def refuse(*args, **kwargs):
        raise _Touched("weights were loaded into a network")

    monkeypatch.setattr(torch.nn.Module, "load_state_dict", refuse)


# ----------------------------------------------------------------------------- file objects


def test_save_and_load_take_binary_file_objects(saved, data):
    model = MultiModalVAE.load(saved[0])
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = MultiModalVAE.load(buffer)
    np.testing.assert_array_equal(loaded.transform(data), model.transform(data))
    with open(saved[0], "rb") as file:  # and a real file opened for reading
        np.testing.assert_array_equal(MultiModalVAE.load(file).transform(data), model.transform(data))


def test_a_file_written_to_a_file_object_is_the_same_model_as_one_written_to_a_path(tmp_path, saved):
    model = MultiModalVAE.load(saved[0])
    with open(tmp_path / "via_object.zip", "wb") as file:
        model.save(file)
    with zipfile.ZipFile(tmp_path / "via_object.zip") as archive:
        assert archive.namelist() == ["metadata.json", "weights.pt"]
        assert json.loads(archive.read("metadata.json"))["params"] == saved[1]["params"]


# ----------------------------------------------------------------------------- bounded inflation


def test_a_huge_declared_metadata_size_is_refused_before_inflating(tmp_path, saved, nothing_inflated):
    blob = _declare_size(saved[0].read_bytes(), "metadata.json", 2**32 - 2)
    (tmp_path / "huge.zip").write_bytes(blob)
    with pytest.raises(ValueError, match=r"metadata.json declares 4294967294 bytes, more than the limit"):
        MultiModalVAE.load(tmp_path / "huge.zip")


def test_a_weights_entry_over_the_limit_is_refused_before_inflating(saved, monkeypatch, nothing_inflated):
    monkeypatch.setattr(_persistence, "MAX_WEIGHTS_SIZE", len(saved[2]) - 1)
    with pytest.raises(ValueError, match=r"weights.pt declares \d+ bytes, more than the limit"):
        MultiModalVAE.load(saved[0])


def test_a_zip_bomb_ratio_is_refused_before_inflating(tmp_path, saved, nothing_inflated):
    members = _members(saved)
    # valid JSON (trailing white space) under the size limit, inflating ~1000 times
    members[0] = ("metadata.json", members[0][1] + b" " * (8 * 2**20), zipfile.ZIP_DEFLATED)
    path = _archive(tmp_path / "bomb.zip", members)
    with pytest.raises(ValueError, match="metadata.json declares a compression ratio of .* zip bomb"):
        MultiModalVAE.load(path)


def test_an_extra_member_is_refused(tmp_path, saved, nothing_inflated):
    path = _archive(tmp_path / "extra.zip", _members(saved) + [("evil.py", b"print(1)", zipfile.ZIP_STORED)])
    with pytest.raises(ValueError, match=r"unexpected entries \['evil.py'\]"):
        MultiModalVAE.load(path)


def test_a_duplicate_member_is_refused(tmp_path, saved, nothing_inflated):
    metadata = json.loads(json.dumps(saved[1]))
    metadata["params"]["n_components"] = 3
    second = ("metadata.json", json.dumps(metadata).encode(), zipfile.ZIP_DEFLATED)
    path = _archive(tmp_path / "twice.zip", _members(saved) + [second])
    with pytest.raises(ValueError, match=r"repeated entries \['metadata.json'\]"):
        MultiModalVAE.load(path)


# ----------------------------------------------------------------------------- metadata schema


def test_an_unknown_metadata_key_is_refused(tmp_path, saved, no_weights_loaded):
    path = _tampered(tmp_path, saved, lambda m: m.update(loader="os.system"))
    with pytest.raises(ValueError, match=r"bad metadata \(unknown entries \['loader'\]\)"):
        MultiModalVAE.load(path)


@pytest.mark.parametrize("name", ["predict", "transform", "_schema", "_build_module", "_secret", "fitted"])
def test_an_attribute_that_would_shadow_a_method_or_private_state_is_refused(
    tmp_path, saved, name, no_weights_loaded
):
    path = _tampered(tmp_path, saved, lambda m: m["attributes"].update({name: 1}))
    with pytest.raises(ValueError, match=f"unexpected attribute name '{name}'"):
        MultiModalVAE.load(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(torch_version=3), "torch_version is a int, expected a str"),
        (lambda m: m["attributes"].update(n_iter_="many"), "n_iter_ must be an integer"),
        (lambda m: m["attributes"].update(_seed=-1), "_seed must be an integer"),
        (lambda m: m["attributes"].update(n_features_in_=True), "n_features_in_ must be an integer"),
        (lambda m: m["attributes"].update(modality_names_=5), "modality_names_ must be a list"),
        (lambda m: m["attributes"].update(modality_names_=["b", "a"]), "differ from the schema"),
        (lambda m: m["attributes"].update(categories_=[1]), "categories_ must be an object"),
        (lambda m: m["schema"].update(input_kind="pickle"), "input_kind must be one of"),
        (lambda m: m["schema"].update(extra=1), "the schema has entries"),
        (lambda m: m["schema"]["modalities"][0].update(one_hot="yes"), "one_hot must be true or false"),
        (lambda m: m["schema"]["modalities"][0].update(name=7), "modality name must be a string"),
        (lambda m: m["schema"]["modalities"][1].update(name="a"), "modality names must be unique"),
    ],
)
def test_metadata_of_the_wrong_type_or_inconsistent_is_refused(
    tmp_path, saved, change, message, no_weights_loaded
):
    with pytest.raises(ValueError, match=message):
        MultiModalVAE.load(_tampered(tmp_path, saved, change))


# ----------------------------------------------------------------------------- sizes vs weights


@pytest.mark.parametrize(
    "change",
    [
        # the fitted architecture (set_params since does not change the fitted module)
        lambda m: m["attributes"]["_architecture"].update(n_components=10**6),  # ~100 MB if built
        lambda m: m["attributes"]["_architecture"].update(n_components=3),
        # the module is built with the sizes it was fitted with (parameters set since do not count)
        lambda m: m["attributes"].update(hidden_layer_sizes_={"__tuple__": [16]}),
        lambda m: m["attributes"].update(hidden_layer_sizes_={"__tuple__": [8, 8]}),
        lambda m: m["attributes"].update(_expert_rank=1),  # poe_full (the default)
        lambda m: m["schema"]["modalities"][0].update(n_input=5),
    ],
)
def test_network_sizes_inconsistent_with_the_weights_are_refused_before_building_it(
    tmp_path, saved, change, no_weights_loaded
):
    with pytest.raises(ValueError, match="the weights do not fit the network the metadata describes"):
        MultiModalVAE.load(_tampered(tmp_path, saved, change))


def test_files_from_the_current_code_still_load(saved, data):
    model = MultiModalVAE.load(saved[0])
    assert model.transform(data).shape == (len(data["a"]), SMALL["n_components"])
