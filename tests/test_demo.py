"""The demo (``python -m skmmvae demo``) runs and returns what it promises."""
import math

import pytest

from skmmvae import __main__ as cli
from skmmvae import demo

pytest.importorskip("matplotlib")


def test_run_demo_returns_finite_results_and_writes_the_figure(tmp_path):
    output = tmp_path / "figures" / "demo.png"
    results = demo.run_demo(epochs=1, output=output, seed=3, verbose=0, n_samples=240)

    assert {"log_likelihood", "imputation_mse", "label_accuracy", "chance_accuracy", "n_train",
            "n_test", "n_epochs", "fit_seconds", "total_seconds", "figure"} <= set(results)
    assert set(results["imputation_mse"]) == {
        "MultiModalVAE", "IterativeImputer", "KNNImputer", "mean (SimpleImputer)"
    }
    assert set(results["label_accuracy"]) == {"MultiModalVAE", "LogisticRegression"}
    numbers = [results["log_likelihood"], results["chance_accuracy"],
               *results["imputation_mse"].values(), *results["label_accuracy"].values()]
    assert all(math.isfinite(v) for v in numbers)
    assert all(v >= 0 for v in results["imputation_mse"].values())
    assert all(0 <= v <= 1 for v in results["label_accuracy"].values())
    assert results["n_train"] + results["n_test"] == 240
    assert results["n_epochs"] == 1
    assert results["aggregation"] == "poe_full"  # "auto" as fitted: 12 or 24 latent dimensions
    assert output.is_file() and output.stat().st_size > 0
    assert results["figure"] == str(output)


def test_results_table_names_every_number(tmp_path):
    results = demo.run_demo(epochs=1, output=None, seed=0, verbose=0, n_samples=200)
    table = demo.format_results(results)
    assert results["figure"] is None
    for name in [*results["imputation_mse"], *results["label_accuracy"]]:
        assert name in table
    assert "log-likelihood" in table and "accuracy" in table


def test_command_line_passes_its_options_to_run_demo(monkeypatch):
    calls = []
    monkeypatch.setattr(demo, "run_demo", lambda **kwargs: calls.append(kwargs))
    status = cli.main(["demo", "--epochs", "3", "--aggregation", "poe", "--objective", "mixture",
                       "--output", "out.png", "--seed", "7"])
    assert status == 0
    assert calls == [dict(epochs=3, aggregation="poe", objective="mixture", output="out.png", seed=7)]


def test_command_line_defaults_and_errors(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(demo, "run_demo", lambda **kwargs: calls.append(kwargs))
    cli.main(["demo"])
    assert calls[0]["epochs"] == demo.DEFAULT_EPOCHS
    assert calls[0]["aggregation"] == demo.DEFAULT_AGGREGATION and calls[0]["objective"] == "tight"
    for bad in (["demo", "--aggregation", "nope"], ["demo", "--epochs", "0"], []):
        with pytest.raises(SystemExit) as exc:
            cli.main(bad)
        assert exc.value.code == 2
    capsys.readouterr()


def test_training_digits_miss_quadrants_and_labels():
    import numpy as np

    X, _ = demo.load_digits_modalities(return_X_y=True)
    original = {name: block.copy() for name, block in X.items()}
    incomplete = demo._make_incomplete(X, np.random.default_rng(0))
    pixels = demo._pixels(incomplete)
    missing_quadrants = np.stack([np.isnan(incomplete[q]).all(1) for q in demo.QUADRANTS], 1)
    assert np.array_equal(np.isnan(pixels).any(1), missing_quadrants.any(1))  # whole quadrants
    assert set(missing_quadrants.sum(1)) == {0, 1, 2}  # never more than two of four
    assert 0.3 < missing_quadrants.any(1).mean() < 0.5
    assert 0.4 < np.isnan(incomplete["label"]).mean() < 0.6
    assert all(np.array_equal(X[n], original[n]) for n in X)  # the input is not modified


def test_demo_trains_with_the_estimators_defaults():
    from skmmvae import MultiModalVAE

    defaults = MultiModalVAE()
    assert demo.DEFAULT_EPOCHS == defaults.max_epochs
    assert demo.DEFAULT_AGGREGATION == defaults.aggregation
