"""Inference of a fitted ``MultiModalVAE``: encoding, imputation, sampling and scores.

:class:`InferenceMixin` holds the estimator's methods that read a fitted model (``predict``,
``sample_posterior``, ``inverse_transform``, ``sample``, ``score_samples``, ``predict_proba``,
``score``) and their one loop: the user's input, converted a chunk of rows at a time by the
fitted :class:`~skmmvae._schema.Schema`, in batches through the module. ``transform`` stays in
the estimator's own class body, where scikit-learn's ``set_output`` wraps it.
"""
import contextlib
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from . import _data
from ._calibration import tempered
from ._layout import from_single_cell
from ._runtime import module_device, seeded, release_free_memory
from .nn import encoder_class_probabilities, iw_conditional_log_likelihood, iw_log_likelihood

# Rows per inference batch (at least; ``batch_size`` if larger) and latent draws per scoring
# batch (rows x importance samples). Module constants so that tests can shrink them.
MIN_INFERENCE_BATCH = 1024
SCORE_BATCH_DRAWS = 2**16
# Inference batches are padded (with copies of their last row) to at least this many rows:
# torch's matrix kernels for a handful of rows round differently from those for more, which
# would make a row's result depend on the size of its batch (scikit-learn's
# check_methods_subset_invariance compares one row at a time with the whole set).
MIN_BATCH_ROWS = 16
# Rows of user input validated and converted at a time by transform/predict/score: their
# temporary memory is bounded by this, not by the number of samples.
INFERENCE_CHUNK_ROWS = 2**16


def positive_count(name, value):
    """``value`` as an int, or a ValueError naming ``name`` where it is not a positive integer
    (booleans are not counts)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class InferenceMixin:
    """The inference methods of :class:`~skmmvae.MultiModalVAE` (see the module docstring)."""

    # ------------------------------------------------------------------ inference helpers
    def _batches(self, tensors, batch_size=None, device=None):
        """Rows of ``tensors`` in order, in batches, on ``device`` (default: the module's)."""
        batch_size = batch_size or max(self._training_batch_size(), MIN_INFERENCE_BATCH)
        device = device or module_device(self.module_)
        for start in range(0, len(tensors), batch_size):
            idx = torch.arange(start, min(start + batch_size, len(tensors)))
            yield tensors.rows(idx).to(device)

    @staticmethod
    def _padded(batch):
        """``batch`` (ModalityTensors or a tensor of rows) padded to at least
        ``MIN_BATCH_ROWS`` rows with copies of its last row, and its number of real rows."""
        n = len(batch)
        if n >= MIN_BATCH_ROWS:
            return batch, n
        rows = torch.cat([torch.arange(n), torch.full((MIN_BATCH_ROWS - n,), n - 1, dtype=torch.long)])
        if isinstance(batch, torch.Tensor):
            return batch[rows.to(batch.device)], n
        return batch.rows(rows.to(batch.mask.device)), n

    def _inference_batches(self, X, batch_size=None, skip=()):
        """Batches of ``X`` validated and converted one input chunk at a time (the columns of
        a 2-D input's modalities in ``skip`` unread: missing in every row)."""
        for _, chunk in _data.row_chunks(X, INFERENCE_CHUNK_ROWS):
            release_free_memory()  # memory bounded by a chunk, not by the rows
            tensors, _ = self._tensors(chunk, skip=skip)
            yield from self._batches(tensors, batch_size)

    def sample_posterior(self, X, n_samples=1, modalities=None, random_state=None):
        """Draws ``z ~ q(z | x_S)``, ``S`` = observed modalities (within ``modalities``).

        Where :meth:`transform` gives the posterior mean, this gives samples of the
        posterior, e.g. to propagate its uncertainty, or for the single-draw MCC of the
        paper.

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            A dict may leave out modalities: they count as missing.
        n_samples : int, default=1
            Draws per row.
        modalities : str, list of str or None, default=None
            Condition on these modalities only (where observed).
        random_state : int, RandomState instance or None, default=None
            Seed of the draws; ``None`` uses a seed fixed at fit (so repeated calls agree).

        Returns
        -------
        Z : ndarray of shape (n_samples, n_rows, n_components)
            The draws.

        Examples
        --------
        >>> import numpy as np
        >>> from skmmvae import MultiModalVAE
        >>> rng = np.random.default_rng(0)
        >>> X = {"a": rng.normal(size=(50, 3)), "b": rng.normal(size=(50, 2))}
        >>> vae = MultiModalVAE(n_components=2, max_epochs=2, random_state=0).fit(X)
        >>> vae.sample_posterior(X, n_samples=10, modalities=["a"]).shape
        (10, 50, 2)
        """
        check_is_fitted(self, "module_")
        n_samples = positive_count("n_samples", n_samples)
        seed = self._seed if random_state is None else int(
            check_random_state(random_state).randint(np.iinfo(np.int32).max))
        with seeded(seed, module_device(self.module_)):
            return self._encode(X, modalities, lambda q: q.sample(n_samples), n_samples)

    def _encode(self, X, modalities, statistic, n_out):
        """``statistic(q)`` ``(n_out, B, d)`` for every batch of ``X``, as one float64 array."""
        X = from_single_cell(X, self.modalities)
        out = None  # allocated once: memory beyond the output is bounded by a chunk
        for start, chunk in _data.row_chunks(X, INFERENCE_CHUNK_ROWS):
            release_free_memory()  # memory bounded by a chunk, not by the rows
            tensors, _ = self._tensors(chunk)
            self._schema.mask(tensors.mask, modalities)  # validate names before any work
            if out is None:
                out = np.empty((n_out, _data.n_samples(X), self._n_features_out))
            with self._threads(), torch.no_grad():
                self.module_.eval()
                for batch in self._batches(tensors):
                    batch, n = self._padded(batch)
                    q = self.module_.encode(batch.xs, self._schema.mask(batch.mask, modalities))
                    values = statistic(q)[:, :n].cpu().numpy()
                    out[:, start : start + values.shape[1]] = values
                    start += values.shape[1]
        return out

    def predict(self, X):
        """Impute the missing modalities and cells from the observed values.

        Observed values are returned unchanged (bit-identical); each missing block and each
        missing cell (a NaN in an observed row) is filled with the decoder mean at the
        posterior mean of ``q(z | x_observed)`` (the most probable class for categorical
        modalities).

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            Data with missing modalities (rows of NaN in a block, or absent dict keys).

        Returns
        -------
        X_imputed : same container type as ``X``
            A copy of ``X`` with the missing blocks filled in (a DataFrame keeps its index,
            columns and float dtypes; a Series in a dict its index, name and dtype). A dict
            also gets the modalities its keys left out. The pandas blocks of a dict are
            aligned by index (see the class Notes): every block returned has its rows, and a
            pandas block its index, in the order of the first pandas block of ``X``.
        """
        check_is_fitted(self, "module_")
        return self._impute(X)

    def _impute(self, X, draw=False, seed=None):
        """``X`` with its missing blocks and cells filled in: decoder means at the posterior
        mean, or (``draw``) draws ``x ~ p(x | z)`` with ``z ~ q(z | x_observed)``, seeded by
        ``seed`` (``None``: the seed fixed at fit, so the same ``X`` gets the same draws)."""
        seed = self._seed if seed is None else seed
        with seeded(seed, module_device(self.module_)) if draw else contextlib.nullcontext():
            return self._filled(X, draw)

    def _filled(self, X, draw):
        """The body of :meth:`_impute`."""
        X = from_single_cell(X, self.modalities)
        is_dict = _data.is_modality_dict(X)
        X = _data.align_rows(X)  # the blocks returned keep their rows and labels together
        # The output is allocated once, in the validated blocks' float dtype (float32 input
        # stays float32), and filled chunk by chunk: memory beyond it is bounded by a chunk.
        out = None
        any_filled = dict.fromkeys(self._schema.names, False)
        for start, chunk in _data.row_chunks(X, INFERENCE_CHUNK_ROWS):
            release_free_memory()  # memory bounded by a chunk, not by the rows
            tensors, blocks = self._tensors(chunk)
            if out is None:
                n = _data.n_samples(X)
                out = (self._schema.empty_blocks(n, blocks) if is_dict
                       else self._schema.empty_table(n, [b.dtype for b in blocks.values()]))
            means = self._decoded(tensors, latent=None, draw=draw)
            rows = slice(start, start + len(tensors))
            for s, info in enumerate(self._schema.modalities):
                block = blocks.get(info.name)
                target = out[info.name][rows] if is_dict else out[rows, info.columns]
                target[...] = np.nan if block is None else block
                missing = ~tensors.mask[:, s].numpy()
                target[missing] = self._schema.to_user(means[s][missing], info)
                if block is not None and not info.is_categorical:
                    cells = np.isnan(block) & ~missing[:, None]  # missing cells of observed rows
                    if cells.any():
                        target[cells] = self._schema.to_user(means[s], info)[cells]
                        missing = missing | cells.any(1)
                if not is_dict:
                    out[rows, info.columns] = target  # fancy indexing made a copy
                any_filled[info.name] |= bool(missing.any())
        if is_dict:
            out = {name: _data.restore_container(X[name], block, any_filled[name]) if name in X else block
                   for name, block in out.items()}
            return _data.ModalityDict(out) if isinstance(X, _data.ModalityDict) else out
        return _data.restore_container(X, out, any(any_filled.values()))

    def inverse_transform(self, Z):
        """Decode latent codes to data space (decoder means).

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)
            Latent codes.

        Returns
        -------
        X : dict of ndarray, or a 2-D ndarray if fitted on 2-D input
            Decoder means (class labels, or one-hot rows, for categorical modalities).
        """
        check_is_fitted(self, "module_")
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self._n_features_out:
            raise ValueError(f"Z must have shape (n_samples, {self._n_features_out}), got {Z.shape}")
        if not np.isfinite(Z).all():
            raise ValueError("Z contains NaN or inf")
        if Z.shape[0] == 0:
            raise ValueError("Z has 0 samples; at least one is required")
        means = self._decoded(None, latent=torch.as_tensor(Z, dtype=torch.float32))
        blocks = {info.name: self._schema.to_user(means[s], info) for s, info in enumerate(self._schema.modalities)}
        return blocks if self._schema.input_kind == "dict" else self._schema.join(blocks)

    def sample(self, n_samples=1):
        """Generate samples: ``z`` from the prior, decoded to data space (decoder means).

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.

        Returns
        -------
        X : dict of ndarray, or a 2-D ndarray if fitted on 2-D input
            Decoded samples.
        Z : ndarray of shape (n_samples, n_components)
            Their latent codes.
        """
        check_is_fitted(self, "module_")
        n_samples = positive_count("n_samples", n_samples)
        with seeded(self._seed, module_device(self.module_)), torch.no_grad():
            z = self.module_.prior.sample(n_samples).float().cpu().numpy().astype(np.float64)
        return self.inverse_transform(z), z

    def _decoded(self, tensors, latent, draw=False):
        """Decoder means per modality (numpy, model space) for encoded ``tensors`` or ``latent``;
        with ``draw``, draws from the decoders at draws from the posteriors of ``tensors``."""
        outs = [[] for _ in self._schema.modalities]
        device = module_device(self.module_)
        with self._threads(), torch.no_grad():
            self.module_.eval()
            if latent is not None:
                chunks = ((z, None) for z in latent.split(max(self._training_batch_size(), MIN_INFERENCE_BATCH)))
            else:
                chunks = ((self._encoded_means(b, draw), b) for b in self._batches(tensors))
            decode = self.module_.decode_samples if draw else self.module_.decode_means
            for z, batch in chunks:
                z, n = self._padded(z)
                # the likelihoods see the rows' observed cells (library sizes of counts)
                data = {} if batch is None else dict(zip(("xs", "mask"), self._given(batch)))
                for s, mean in enumerate(decode(z.to(device), **data)):
                    outs[s].append(mean[:n].float().cpu())
        return [torch.cat(o).numpy().astype(np.float64) for o in outs]

    def _given(self, batch):
        """``(xs, mask)`` of ``batch`` padded as :meth:`_padded` pads its codes."""
        padded, _ = self._padded(batch)
        return padded.xs, padded.mask

    def _encoded_means(self, batch, draw=False):
        """Posterior means (``draw``: one draw each) of the rows of ``batch`` (computed in a
        padded batch)."""
        padded, n = self._padded(batch)
        q = self.module_.encode(padded.xs, padded.mask)
        return (q.sample(1)[0] if draw else q.mean)[:n]

    # ------------------------------------------------------------------ scores
    def score_samples(self, X, given=None):
        """Importance-weighted estimate of ``log p(x_observed)`` per sample (``beta=1``).

        Uses ``n_importance_samples`` draws from ``q(z | x_observed)``; the draws are seeded by
        ``random_state`` and shared by all rows, so the result does not depend on batching.
        With ``given``, the cross-modal log-likelihood ``log p(x_T | x_S)`` instead: ``S`` the
        observed modalities among ``given``, ``T`` the other observed ones (self-normalised
        importance sampling with draws from ``q(z | x_S)``; consistent as
        ``n_importance_samples`` grows). It measures how well the model predicts the
        targets from ``S``: the quantity ``predict`` imputes from.

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            Data; only the observed modalities of each sample are scored.
        given : str, list of str or None, default=None
            Condition on these modalities; ``None`` scores the joint log-likelihood. Rows
            with no observed target score 0.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            Log-likelihood estimates (nats).

        Examples
        --------
        >>> import numpy as np
        >>> from skmmvae import MultiModalVAE
        >>> rng = np.random.default_rng(0)
        >>> z = rng.normal(size=(200, 2))
        >>> X = {"a": z @ rng.normal(size=(2, 5)), "b": z @ rng.normal(size=(2, 3))}
        >>> vae = MultiModalVAE(n_components=2, max_epochs=5, random_state=0).fit(X)
        >>> joint = vae.score_samples(X)                  # log p(a, b)
        >>> b_given_a = vae.score_samples(X, given="a")   # log p(b | a)
        >>> joint.shape, b_given_a.shape
        ((200,), (200,))
        """
        check_is_fitted(self, "module_")
        given_mask = None if given is None else self._schema.mask(
            torch.ones(1, len(self._schema.names), dtype=torch.bool), given, "given")[0]
        if given_mask is None:
            def estimate(batch):
                return iw_log_likelihood(self.module_, batch.xs, batch.mask,
                                         self.n_importance_samples, common_noise=True)
        else:
            def estimate(batch):
                return iw_conditional_log_likelihood(self.module_, batch.xs, batch.mask, given_mask,
                                                     self.n_importance_samples, common_noise=True)
        return self._importance_estimates(X, estimate)

    def _importance_estimates(self, X, estimate, skip=(), converted=None):
        """``estimate(batch)`` over batches of ``X`` sized for ``n_importance_samples`` draws,
        as one float64 array. The same seed for every batch: each row sees the same random
        numbers, whatever its batch. The modalities in ``skip`` are left out of a 2-D ``X``.
        ``converted``: rows already converted (ModalityTensors), read in place of ``X``."""
        X = from_single_cell(X, self.modalities) if converted is None else None
        out = []
        batch_size = max(1, SCORE_BATCH_DRAWS // int(self.n_importance_samples))
        with self._threads(), torch.no_grad():
            self.module_.eval()
            batches = (self._inference_batches(X, batch_size, skip) if converted is None
                       else self._batches(converted, batch_size))
            for batch in batches:
                batch, n = self._padded(batch)
                if not out:  # the first batch is the largest: check it before any draw
                    self._check_score_memory(len(batch))
                with seeded(self._seed, batch.mask.device):
                    out.append(estimate(batch)[:n].double().cpu())
        return torch.cat(out).numpy()

    def _has_labels(self):
        """``predict_proba`` exists unfitted (it raises NotFittedError) and, once fitted, when
        some modality is categorical."""
        return not hasattr(self, "_schema") or bool(self._schema.categorical)

    @available_if(_has_labels)
    def predict_proba(self, X, modality=None):
        """Class probabilities of a categorical modality given the other observed modalities.

        ``p(y = c | x_S)``, ``S`` the observed modalities of each row other than ``modality``
        (its values in ``X``, if any, are ignored): the mean of the decoder's class
        probabilities over ``n_importance_samples`` draws from ``q(z | x_S)``
        (:func:`skmmvae.nn.encoder_class_probabilities`; seeded like :meth:`score_samples`).
        This is the model used as a classifier of one modality from the others, including
        rows where some of the others are missing. :meth:`predict` imputes the class of the
        decoder at the posterior mean instead, which can differ when the posterior is wide.
        The importance-weighted estimate of the generative model's conditional, whose log at
        the observed class is ``score_samples(X, given=...)``, is
        :func:`skmmvae.nn.iw_class_probabilities`; in the quality benchmark it classified
        worse (its weights rest on few draws; ``docs/quality.rst``, "Class probabilities").
        The probabilities are raised to the power ``1 / T`` and renormalised, with ``T`` the
        modality's temperature in ``class_temperatures_``, fitted after training on the
        validation rows (1 without enough of them); it changes no class ranking.

        Only available when some modality is categorical.

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            Data; the values of ``modality`` are not read: it may be missing, left out of a
            dict, or hold placeholders (in the columns of a 2-D input too).
        modality : str or None, default=None
            The categorical modality; ``None`` for the only one.

        Returns
        -------
        probabilities : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``categories_[modality]``; rows sum to 1.

        Examples
        --------
        >>> import numpy as np
        >>> from skmmvae import MultiModalVAE
        >>> rng = np.random.default_rng(0)
        >>> z = rng.normal(size=(200, 2))
        >>> X = {"x": z @ rng.normal(size=(2, 5)), "label": np.where(z[:, 0] > 0, "pos", "neg")}
        >>> vae = MultiModalVAE(likelihoods={"label": "categorical"}, n_components=2,
        ...                     max_epochs=5, random_state=0).fit(X)
        >>> proba = vae.predict_proba({"x": X["x"]})
        >>> proba.shape, vae.categories_["label"].tolist()
        ((200, 2), ['neg', 'pos'])
        """
        check_is_fitted(self, "module_")
        labels = self._schema.categorical
        if modality is None:
            if len(labels) != 1:
                raise ValueError(f"the categorical modalities are {labels}: name one with modality=")
            modality = labels[0]
        if modality not in labels:
            raise ValueError(
                f"modality={modality!r} is not a categorical modality; categorical: {labels}"
            )
        temperature = self.__dict__.get("class_temperatures_", {}).get(modality, 1.0)
        return tempered(self._class_probabilities(X, modality), temperature)

    def _class_probabilities(self, X, modality, converted=None):
        """:meth:`predict_proba` before its temperature (``class_temperatures_``); from
        ``converted`` (ModalityTensors in which ``modality`` is missing) in place of ``X``."""
        target = self._schema.names.index(modality)
        if converted is None:
            X = _data.align_rows(from_single_cell(X, self.modalities))  # rows in the order of X's
            # first pandas block, even the target's; its values are left out unread, from a
            # dict and from a 2-D input alike (a placeholder or unseen label is no error)
            X = _without(X, modality)
        proba = self._importance_estimates(X, lambda batch: encoder_class_probabilities(
            self.module_, batch.xs, batch.mask, target, self.n_importance_samples, common_noise=True),
            skip=(modality,), converted=converted)
        return proba / proba.sum(1, keepdims=True)  # exact in float64 for scikit-learn's metrics

    def score(self, X, y=None):
        """Mean importance-weighted log-likelihood of the observed modalities.

        Parameters
        ----------
        X : dict of array-like, ModalityDict, array-like or DataFrame
            Data.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Mean of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))


def _without(X, name):
    """``X`` without the values of modality ``name``: a dict leaves the key out; a 2-D input
    is passed as is (the caller skips that modality's columns)."""
    if _data.is_modality_dict(X) and name in X:
        kept = {k: v for k, v in X.items() if k != name}
        if not kept:
            raise ValueError(f"X holds only the modality {name!r}: nothing to predict it from")
        return _data.ModalityDict(kept) if isinstance(X, _data.ModalityDict) else kept
    return X
