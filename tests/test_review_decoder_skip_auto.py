"""Review of ``decoder_skip="auto"``: the cases its own tests leave out."""
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from skmmvae import MultiModalVAE
from skmmvae._persistence import METADATA, WEIGHTS

ROOT = Path(__file__).resolve().parent.parent
SMALL = dict(n_components=2, hidden_layer_sizes=(8,), embedding_size=8, max_epochs=2,
             early_stopping=False, validation_fraction=0.0, random_state=0)


@pytest.mark.parametrize("n_rows", [6, 7, 8, 9])
def test_labels_and_one_hot_rows_resolve_auto_alike(n_rows):
    """A categorical modality given as labels or as one-hot rows is the same model
    (test_estimator's equivalence): ``"auto"`` must not count one column for the labels and
    one per class for the one-hot rows. 5 numeric columns and 3 classes: with 7 rows, 6
    columns as labels and 8 as one-hot rows gave the linear path to one model only."""
    rng = np.random.default_rng(0)
    numeric = rng.normal(size=(n_rows, 5))
    labels = np.arange(n_rows) % 3
    params = dict(likelihoods={"label": "categorical"}, **SMALL)
    as_labels = MultiModalVAE(**params).fit({"x": numeric, "label": labels.astype(float)})
    as_one_hot = MultiModalVAE(**params).fit({"x": numeric, "label": np.eye(3)[labels]})
    assert as_labels.decoder_skip_ is as_one_hot.decoder_skip_
    assert as_labels.decoder_skip_ is (n_rows > 5 + 3)
    np.testing.assert_array_equal(as_labels.transform({"x": numeric}), as_one_hot.transform({"x": numeric}))


def _rewritten(est, edit):
    buffer = io.BytesIO()
    est.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        metadata, weights = json.loads(archive.read(METADATA)), archive.read(WEIGHTS)
    edit(metadata)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(METADATA, json.dumps(metadata))
        archive.writestr(WEIGHTS, weights)
    out.seek(0)
    return out


def test_a_file_claiming_the_path_its_recorded_architecture_lacks_is_refused():
    """An architecture without ``decoder_skip`` is that of plain decoders (ARCHITECTURE_BEFORE):
    a ``decoder_skip_`` of True beside it disagrees with the weights loaded."""
    rng = np.random.default_rng(0)
    est = MultiModalVAE(**SMALL).fit({"a": rng.normal(size=(10, 6)), "b": rng.normal(size=(10, 6))})
    assert est.decoder_skip_ is False

    def edit(metadata):
        metadata["attributes"]["_architecture"].pop("decoder_skip")
        metadata["attributes"]["decoder_skip_"] = True

    with pytest.raises(ValueError, match="decoder_skip_ True differs from the recorded architecture"):
        MultiModalVAE.load(_rewritten(est, edit))

    def unrecorded(metadata):  # no decoder_skip_ either: a file of an earlier release, accepted
        metadata["attributes"]["_architecture"].pop("decoder_skip")
        metadata["attributes"].pop("decoder_skip_")

    assert MultiModalVAE.load(_rewritten(est, unrecorded)).decoder_skip_ is False


def test_the_committed_quality_report_is_that_of_the_committed_records():
    """``benchmarks/quality/results.md`` (the tables the docs include) is what report.py
    makes of ``results/results.jsonl``: the records relabelled ``skip``/``n12skip`` and the
    new ``default`` rows must be in it."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.quality.report import DEFAULT_IN, DEFAULT_OUT, read_records, report

    assert report(read_records([DEFAULT_IN])) == Path(DEFAULT_OUT).read_text()
