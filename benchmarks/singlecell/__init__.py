"""Single-cell benchmark (see run.py)."""
