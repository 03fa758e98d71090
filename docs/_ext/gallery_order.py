"""The order of the examples in the sphinx-gallery page (``within_subsection_order``)."""
from pathlib import Path

# First steps first; scripts not listed here follow in alphabetical order.
ORDER = [
    "plot_tutorial",
    "plot_quickstart",
    "plot_imputation",
    "plot_pipeline_classifier",
    "plot_grid_search",
    "plot_custom_encoder",
    "plot_save_load",
]


class ExampleOrder:
    """Sort key of example file names: the position in ``ORDER``, then the name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        stem = Path(filename).stem
        return (ORDER.index(stem) if stem in ORDER else len(ORDER), stem)

    def __repr__(self):
        return f"<{self.__class__.__name__}>"
