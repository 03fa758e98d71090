"""The documentation's converter of the benchmarks' Markdown results to reStructuredText."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
docutils = pytest.importorskip("docutils")  # installed with the docs extra (Sphinx)

from markdown_results import markdown_to_rst, results_rst, rst_problems  # noqa: E402


def _doctree(rst):
    from docutils.core import publish_doctree

    return publish_doctree(rst, settings_overrides={"report_level": 5})


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks").glob("*/*results.md")),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_results_file_converts_to_tables_cleanly(path):
    text = path.read_text(encoding="utf-8")
    rst = markdown_to_rst(text)
    assert rst_problems(rst) == []
    tables = sum(1 for line in text.splitlines() if set(line.replace("|", "").strip()) <= set("-: ")
                 and line.count("|") >= 2)
    assert rst.count(".. list-table::") == tables


def test_markup_in_cells_and_text_is_escaped_or_converted():
    md = """# Title with `code`s

Text with *emphasis*, **bold**, a [link](https://example.org), a_b_ and x*y, |pipes|.

## Sub

| name | value |
|:-----|------:|
| mean KL(q(z|x) || p(z|x)) | -1.27 ± 0.05 |
| - | 1. |
| `a|b` |
| >>> x | .. comment |

1. first
2. second

```
literal *text*
```
"""
    rst = markdown_to_rst(md)
    assert rst_problems(rst) == []
    text = _doctree(rst).astext()
    assert "mean KL(q(z|x) || p(z|x))" in text  # the stray pipes are joined back into the cell
    assert "-1.27\u00a0±\u00a00.05" in text
    assert "a_b_ and x*y, |pipes|" in text
    assert "literal *text*" in text
    for cell in ["a|b", ">>> x", ".. comment"]:
        assert cell in text


def test_heading_levels_are_ranked_and_the_table_is_a_list_table():
    rst = markdown_to_rst("# A\n\n### B\n\n#### C\n\n| x |\n|---|\n| 1 |\n")
    assert "A\n^" in rst and "B\n\"" in rst and "C\n'" in rst
    assert ".. list-table::" in rst


def test_a_missing_file_says_how_to_create_it(tmp_path):
    rst = results_rst(tmp_path / "results.md", "Run ``python run.py``", tmp_path)
    assert rst.startswith("No results yet: ``results.md`` does not exist. Run ``python run.py``")
    assert rst_problems(rst) == []


def test_an_unconvertible_file_is_shown_as_text(tmp_path, monkeypatch):
    import markdown_results

    path = tmp_path / "results.md"
    path.write_text("| a |\n|---|\n| 1 |\n", encoding="utf-8")
    monkeypatch.setattr(markdown_results, "markdown_to_rst", lambda text: ".. bad-directive::\n")
    rst = results_rst(path, "Run it", tmp_path)
    assert ".. code-block:: text" in rst and "   | a |" in rst
