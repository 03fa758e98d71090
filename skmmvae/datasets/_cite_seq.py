"""CITE-seq-like single cells: RNA counts with library sizes, proteins with a background."""
import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._checks import check_float, check_int


_CELL_TYPES = ("B", "CD4 T", "CD8 T", "NK", "Monocyte", "DC", "Platelet", "pDC")


def make_cite_seq(n_samples=2000, n_genes=200, n_proteins=20, n_cell_types=6, n_latent=5,
                  rna_only_fraction=0.3, library_size=2000.0, library_spread=0.4,
                  gene_dispersion=2.0, protein_background=20.0, random_state=None):
    """CITE-seq-like cells: RNA counts with library sizes, protein counts with a background.

    Cells of ``n_cell_types`` types lie in a latent space: a type's centre ``m_k ~ N(0, 4 I)``
    (dimension ``n_latent``), a cell ``z = m_k + N(0, 0.25 I)``. Each modality is a negative
    binomial of the latent:

    * RNA: gene proportions ``rho = softmax(z W + b)`` (``W ~ N(0, 0.64 / n_latent)``,
      ``b ~ N(0, 1)``),
      a library size per cell ``l ~ LogNormal(log library_size, library_spread)``, and
      counts ``NB(mean l * rho, theta_g)`` with per-gene inverse dispersions ``theta_g``
      around ``gene_dispersion`` (log-normal, spread 0.5);
    * protein (antibody-derived tags): a background per protein
      ``beta_p ~ LogNormal(log protein_background, 0.5)`` in every cell (ambient and unbound
      antibodies, as in totalVI) plus a foreground ``exp(a_p + z v_p)`` on the cells that
      express it (``v_p ~ N(0, 0.36 / n_latent)``, ``a_p ~ N(3, 0.5^2)``), with NB noise of inverse
      dispersion 10.

    A fraction ``rna_only_fraction`` of the cells, chosen at random, was measured by RNA
    only: their protein row is NaN in ``data`` (the truth keeps it).

    Parameters
    ----------
    n_samples : int, default=2000
        Number of cells.
    n_genes, n_proteins : int, default=200, 20
        Number of genes and of proteins.
    n_cell_types : int, default=6
        Number of cell types (at most 8 are named, the others ``"type<k>"``).
    n_latent : int, default=5
        Dimension of the latent space of the cells.
    rna_only_fraction : float, default=0.3
        Fraction of cells whose proteins are missing, in [0, 1).
    library_size : float, default=2000.0
        Median RNA library size (total count per cell).
    library_spread : float, default=0.4
        Standard deviation of the log library size (>= 0).
    gene_dispersion : float, default=2.0
        Typical inverse dispersion of the genes (> 0; smaller is noisier).
    protein_background : float, default=20.0
        Typical background count of a protein (> 0).
    random_state : int, RandomState instance or None, default=None
        Seed or generator for all random draws.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: the dict ``{"rna": (n, n_genes), "protein": (n, n_proteins)}`` of float
        counts, the protein rows of RNA-only cells NaN; ``truth``: the same without NaN;
        ``protein_mean``: the expected protein counts (background plus foreground);
        ``cell_type``: the type names (object array (n,)); ``latent``: ``z`` (n, n_latent);
        ``library_size``: the RNA library sizes ``l`` (n,); ``rna_only``: boolean (n,);
        ``gene_names`` and ``protein_names``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmvae.datasets import make_cite_seq
    >>> cells = make_cite_seq(n_samples=300, n_genes=50, n_proteins=10, random_state=0)
    >>> cells.data["rna"].shape, cells.data["protein"].shape
    ((300, 50), (300, 10))
    >>> int(cells.rna_only.sum()), bool(np.isnan(cells.data["protein"][cells.rna_only]).all())
    (90, True)
    >>> sorted(set(cells.cell_type))
    ['B', 'CD4 T', 'CD8 T', 'DC', 'Monocyte', 'NK']
    """
    n_samples = check_int("n_samples", n_samples, 1)
    n_genes = check_int("n_genes", n_genes, 2)
    n_proteins = check_int("n_proteins", n_proteins, 1)
    n_cell_types = check_int("n_cell_types", n_cell_types, 1)
    n_latent = check_int("n_latent", n_latent, 1)
    rna_only_fraction = check_float("rna_only_fraction", rna_only_fraction, 0.0, 1.0)
    if rna_only_fraction >= 1:
        raise ValueError(f"rna_only_fraction must be < 1 (some cells need proteins), got {rna_only_fraction}")
    library_size = check_float("library_size", library_size, minimum=0.0)
    library_spread = check_float("library_spread", library_spread, minimum=0.0)
    gene_dispersion = check_float("gene_dispersion", gene_dispersion, minimum=0.0)
    protein_background = check_float("protein_background", protein_background, minimum=0.0)
    for name, value in (("library_size", library_size), ("gene_dispersion", gene_dispersion),
                        ("protein_background", protein_background)):
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    rng = check_random_state(random_state)

    names = np.array([_CELL_TYPES[k] if k < len(_CELL_TYPES) else f"type{k}"
                      for k in range(n_cell_types)], dtype=object)
    centres = 2.0 * rng.standard_normal((n_cell_types, n_latent))
    types = rng.randint(n_cell_types, size=n_samples)
    z = centres[types] + 0.5 * rng.standard_normal((n_samples, n_latent))

    logits = z @ (0.8 / np.sqrt(n_latent) * rng.standard_normal((n_latent, n_genes))) + rng.standard_normal(n_genes)
    rho = np.exp(logits - logits.max(1, keepdims=True))
    rho /= rho.sum(1, keepdims=True)
    library = np.exp(np.log(library_size) + library_spread * rng.standard_normal(n_samples))
    theta_genes = gene_dispersion * np.exp(0.5 * rng.standard_normal(n_genes))
    rna = _negative_binomial(library[:, None] * rho, theta_genes, rng)

    background = protein_background * np.exp(0.5 * rng.standard_normal(n_proteins))
    foreground = np.exp(3.0 + 0.5 * rng.standard_normal(n_proteins)
                        + z @ (0.6 / np.sqrt(n_latent) * rng.standard_normal((n_latent, n_proteins))))
    protein_mean = background + foreground
    protein = _negative_binomial(protein_mean, 10.0, rng)

    rna_only = np.zeros(n_samples, dtype=bool)
    rna_only[rng.permutation(n_samples)[: int(round(rna_only_fraction * n_samples))]] = True
    observed_protein = protein.copy()
    observed_protein[rna_only] = np.nan
    return Bunch(
        data={"rna": rna.copy(), "protein": observed_protein},
        truth={"rna": rna, "protein": protein},
        protein_mean=protein_mean,
        cell_type=names[types],
        latent=z,
        library_size=library,
        rna_only=rna_only,
        gene_names=[f"gene{j}" for j in range(n_genes)],
        protein_names=[f"protein{j}" for j in range(n_proteins)],
    )


def _negative_binomial(mean, theta, rng):
    """Negative binomial counts (float) of ``mean`` and inverse dispersion ``theta``, as a
    gamma-Poisson mixture."""
    theta = np.broadcast_to(theta, mean.shape)
    return rng.poisson(rng.gamma(theta, mean / theta)).astype(np.float64)
