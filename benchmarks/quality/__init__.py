"""Quality benchmark: the multi-modal VAE against the baselines a user would run.

Modules, one concept each: :mod:`.datasets` (the data sets), :mod:`.regimes` (train/test
splits and the complete / missing / small training regimes), :mod:`.metrics`
(standardised MSE, accuracy, log-loss), :mod:`.baselines` (imputers and per-view
regressions/classifiers), :mod:`.vae` (the estimator under test), :mod:`.representation`
(linear probe of the latent space and its PCA baseline), :mod:`.suite` (``run_one`` and
``evaluate``), ``run.py`` (command line) and ``report.py`` (Markdown tables).
"""
