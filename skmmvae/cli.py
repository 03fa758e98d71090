"""The command line for a user's own files: ``python -m skmmvae fit|impute|embed``.

A table (CSV, or Parquet where pandas can read it) holds one row per sample; its columns are
grouped into modalities on the command line (``--modality rna=gene_*``) or in a small JSON or
TOML file (``--groups groups.toml``). ``fit`` trains a :class:`~skmmvae.MultiModalVAE` and
writes it with :meth:`~skmmvae.MultiModalVAE.save`; ``impute`` and ``embed`` load that file
(:meth:`~skmmvae.MultiModalVAE.load`, which runs no code from it) and write the imputed table
or the latent coordinates. An empty cell (NaN) is a missing value: a row of empty cells in a
modality's columns is a missing modality, any other empty cell a missing cell.

Every problem with the files or the options ends the command with a one-line ``error:``
message and exit status 2, as argparse does, not with a traceback.
"""
import argparse
import fnmatch
import json
import sys
from pathlib import Path

_TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


class CommandError(Exception):
    """A user error: printed as ``error: ...`` with exit status 2."""


# ---------------------------------------------------------------------------- tables
def _pandas():
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is a dependency of the test extra
        raise CommandError("the command line needs pandas: pip install pandas") from None
    return pandas


def _table_format(path):
    kind = _TABLE_SUFFIXES.get(Path(path).suffix.lower())
    if kind is None:
        raise CommandError(
            f"{path}: unknown table format {Path(path).suffix!r}; use .csv, .tsv or .parquet"
        )
    return kind


def read_table(path, index_col=None):
    """A DataFrame from a CSV/TSV or Parquet file, with clear errors for bad files."""
    pd = _pandas()
    path = Path(path)
    kind = _table_format(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except ImportError:
        raise CommandError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    except Exception as exc:  # pandas raises many types for malformed files
        raise CommandError(f"{path}: cannot read it as {kind}: {exc}") from None
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise CommandError(f"{path}: the table is empty")
    frame.columns = [str(c) for c in frame.columns]
    if index_col is not None:
        if index_col not in frame.columns:
            raise CommandError(f"{path}: no column {index_col!r} for --index-col")
        frame = frame.set_index(index_col)
    return frame


def write_table(frame, path):
    """Write ``frame`` (its index included) as CSV/TSV or Parquet, by the file's suffix."""
    kind = _table_format(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        if kind == "parquet":
            frame.to_parquet(path)
        else:
            frame.to_csv(path, sep="\t" if kind == "tsv" else ",")
    except ImportError:
        raise CommandError(f"{path}: writing Parquet needs pyarrow (pip install pyarrow)") from None
    except OSError as exc:
        raise CommandError(f"{path}: cannot write it: {exc}") from None


# ---------------------------------------------------------------------------- groups
def _pair(text, option):
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise CommandError(f"{option} expects NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def read_groups_file(path):
    """``{modality: [column or pattern, ...]}`` from a JSON or TOML file."""
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".toml":
            import tomllib  # Python >= 3.11

            with open(path, "rb") as f:
                data = tomllib.load(f)
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
    except ImportError:  # pragma: no cover - Python 3.10
        raise CommandError(f"{path}: TOML needs Python 3.11 or later; use a JSON file") from None
    except Exception as exc:
        raise CommandError(f"{path}: cannot read the column groups: {exc}") from None
    data = data.get("modalities", data) if isinstance(data, dict) else data
    if not isinstance(data, dict) or not data:
        raise CommandError(f"{path}: expected a table of modality = [columns]")
    groups = {}
    for name, columns in data.items():
        if isinstance(columns, str):
            columns = [columns]
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise CommandError(f"{path}: modality {name!r} must list column names or patterns")
        groups[str(name)] = columns
    return groups


def column_groups(columns, specs, groups_file=None, drop=()):
    """Resolve ``NAME=col1,col2`` / ``NAME=prefix_*`` specs (and a groups file) to
    ``{modality: [columns]}`` over ``columns``; every column must be used once or dropped."""
    patterns = read_groups_file(groups_file) if groups_file else {}
    for spec in specs:
        name, value = _pair(spec, "--modality")
        patterns.setdefault(name, []).extend(v for v in value.split(",") if v)
    if not patterns:
        raise CommandError("name the modalities: --modality NAME=COLUMNS (repeat it) or --groups FILE")
    unknown = [c for c in drop if c not in columns]
    if unknown:
        raise CommandError(f"--drop names columns the table does not have: {unknown}")
    groups, owner = {}, {}
    for name, pats in patterns.items():
        chosen = [c for c in columns if c not in drop and any(fnmatch.fnmatchcase(c, p) for p in pats)]
        if not chosen:
            raise CommandError(f"modality {name!r}: no column matches {pats}")
        for column in chosen:
            if column in owner:
                raise CommandError(f"column {column!r} is in both modalities {owner[column]!r} and {name!r}")
            owner[column] = name
        groups[name] = chosen
    left = [c for c in columns if c not in owner and c not in drop]
    if left:
        shown = ", ".join(map(repr, left[:8])) + (" ..." if len(left) > 8 else "")
        raise CommandError(
            f"{len(left)} columns belong to no modality ({shown}); add them to a modality or "
            "leave them out with --drop COLUMN (or use --index-col for an id column)"
        )
    return groups


def _value(text):
    """A parameter value: JSON where it parses (numbers, true/false, lists), else the string."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return tuple(value) if isinstance(value, list) else value


# ---------------------------------------------------------------------------- commands
def _load_model(path):
    from .estimator import MultiModalVAE

    if not Path(path).is_file():
        raise CommandError(f"{path}: no such model file (write one with: python -m skmmvae fit ...)")
    try:
        return MultiModalVAE.load(path)
    except Exception as exc:
        raise CommandError(f"{path}: cannot load the model: {exc}") from None


def _model_frame(vae, frame, path):
    """The columns of ``frame`` the model was fitted on, in its order."""
    expected = [str(c) for c in getattr(vae, "feature_names_in_", [])]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise CommandError(f"{path}: the model needs columns the table lacks: {missing[:8]}")
    return frame[expected]


def cmd_fit(args, out):
    from .estimator import MultiModalVAE

    frame = read_table(args.data, args.index_col)
    groups = column_groups(list(frame.columns), args.modality, args.groups, args.drop)
    params = dict(_pair(p, "--param") for p in args.param)
    params = {k: _value(v) for k, v in params.items()}
    likelihoods = dict(_pair(p, "--likelihood") for p in args.likelihood)
    unknown = sorted(set(likelihoods) - set(groups))
    if unknown:
        raise CommandError(f"--likelihood names unknown modalities {unknown}; modalities: {sorted(groups)}")
    columns = [c for cols in groups.values() for c in cols]
    try:
        vae = MultiModalVAE(modalities=groups, likelihoods=likelihoods or None, **params)
    except TypeError as exc:
        raise CommandError(f"--param: {exc}") from None
    try:
        vae.fit(frame[columns])
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{args.data}: {exc}") from None
    vae.save(args.model)
    sizes = ", ".join(f"{name} ({len(cols)})" for name, cols in groups.items())
    print(f"fitted on {len(frame)} rows, modalities {sizes}, {vae.n_iter_} epochs; "
          f"model written to {args.model}", file=out)


def cmd_impute(args, out):
    vae = _load_model(args.model)
    frame = read_table(args.data, args.index_col)
    data = _model_frame(vae, frame, args.data)
    try:
        imputed = vae.predict(data)
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{args.data}: {exc}") from None
    result = frame.copy()
    result[imputed.columns] = imputed
    write_table(result, args.output)
    filled = int(data.isna().to_numpy().sum() - imputed.isna().to_numpy().sum())
    print(f"imputed {filled} cells in {len(frame)} rows; written to {args.output}", file=out)


def cmd_embed(args, out):
    pd = _pandas()
    vae = _load_model(args.model)
    frame = read_table(args.data, args.index_col)
    data = _model_frame(vae, frame, args.data)
    modalities = args.modalities.split(",") if args.modalities else None
    try:
        latent = vae.transform(data, modalities=modalities)
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{args.data}: {exc}") from None
    columns = [f"z{k}" for k in range(latent.shape[1])]
    write_table(pd.DataFrame(latent, index=frame.index, columns=columns), args.output)
    print(f"embedded {len(frame)} rows in {latent.shape[1]} dimensions; written to {args.output}", file=out)


# ---------------------------------------------------------------------------- parsers
def _add_table_arguments(parser):
    parser.add_argument("data", help="the table: .csv, .tsv or .parquet (one row per sample)")
    parser.add_argument("--index-col", metavar="COLUMN", help="a column of sample ids (kept, not modelled)")


def add_commands(commands):
    """Add the ``fit``, ``impute`` and ``embed`` sub-commands to an argparse sub-parser set."""
    fit = commands.add_parser(
        "fit", help="train a model on a table and save it",
        description="Train a MultiModalVAE on a CSV/Parquet table whose columns are grouped "
                    "into modalities, and save it (a file that loads without running code).",
        epilog="example: python -m skmmvae fit cells.csv --index-col cell --modality "
               "'rna=gene_*' --modality 'protein=adt_*' --param n_components=10 --model model.zip",
    )
    _add_table_arguments(fit)
    fit.add_argument("--modality", action="append", default=[], metavar="NAME=COLUMNS",
                     help="a modality and its columns, comma-separated, shell-style patterns "
                          "allowed (e.g. rna=gene_*); repeat for each modality")
    fit.add_argument("--groups", metavar="FILE",
                     help="a JSON or TOML file {modality: [columns or patterns]} (TOML: "
                          "optionally under a [modalities] table)")
    fit.add_argument("--drop", action="append", default=[], metavar="COLUMN",
                     help="a column to leave out (repeatable)")
    fit.add_argument("--likelihood", action="append", default=[], metavar="NAME=LIKELIHOOD",
                     help="the likelihood of a modality: gaussian (default), laplace, bernoulli, "
                          "poisson, negative_binomial, zinb or categorical (repeatable)")
    fit.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="an estimator parameter, e.g. n_components=10 or "
                          "hidden_layer_sizes=[64,64] (JSON values; repeatable)")
    fit.add_argument("--model", required=True, metavar="FILE", help="where to save the model (.zip)")
    fit.set_defaults(run=cmd_fit)

    impute = commands.add_parser(
        "impute", help="fill the missing cells of a table with a saved model",
        description="Fill the missing modalities (rows of empty cells in a modality's columns) "
                    "of a table with a model saved by 'fit'; observed cells are kept as they are.",
    )
    _add_table_arguments(impute)
    impute.add_argument("--model", required=True, metavar="FILE", help="a model saved by 'fit'")
    impute.add_argument("--output", required=True, metavar="FILE", help="the imputed table (.csv/.parquet)")
    impute.set_defaults(run=cmd_impute)

    embed = commands.add_parser(
        "embed", help="write the latent coordinates of a table's rows",
        description="Write the latent means (columns z0, z1, ...) of each row of a table, from "
                    "the modalities it has, with a model saved by 'fit'.",
    )
    _add_table_arguments(embed)
    embed.add_argument("--model", required=True, metavar="FILE", help="a model saved by 'fit'")
    embed.add_argument("--output", required=True, metavar="FILE", help="the latent table (.csv/.parquet)")
    embed.add_argument("--modalities", metavar="NAMES", help="encode from these modalities only (comma-separated)")
    embed.set_defaults(run=cmd_embed)


def run(args, out=None, err=None):
    """Run a parsed sub-command; a :class:`CommandError` becomes ``error: ...`` and status 2."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args.run(args, out)
    except CommandError as exc:
        print(f"error: {exc}", file=err)
        return 2
    return 0
