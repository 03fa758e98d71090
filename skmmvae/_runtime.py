"""How torch runs the estimator's work: device, threads and random numbers.

torch keeps process-wide state that the estimator sets only for the duration of a call and
then gives back: the global random number generator (:class:`_seeded` seeds it and restores
the caller's state after, so that fits and draws are reproducible without disturbing the
user's RNG) and the intra-op thread count (:class:`_TorchThreads` applies ``n_jobs``, counting
the cores this process may use and staying within a Dask worker's threads). Also: the
device a module lives on, and moving (optimiser) state to the CPU for pickling.
"""
import torch


class _seeded:
    """Run a block with torch's global RNG seeded, restoring the caller's RNG state after."""

    def __init__(self, seed, device):
        self.seed, self.device = seed, device

    def __enter__(self):
        devices = [torch.device(self.device)] if "cuda" in str(self.device) else []
        self._fork = torch.random.fork_rng(devices=devices)
        self._fork.__enter__()
        torch.manual_seed(self.seed)

    def __exit__(self, *exc):
        return self._fork.__exit__(*exc)


class _TorchThreads:
    """Set torch's intra-op thread count for a block (see ``n_jobs``)."""

    def __init__(self, n_jobs):
        self.n_jobs = n_jobs

    def __enter__(self):
        self._previous = torch.get_num_threads()
        cores = _available_cores()
        if self.n_jobs is None:
            threads = 1 if cores <= 4 else self._previous
            # a Dask worker runs nthreads tasks at once on as many cores: stay within them
            threads = min(threads, _dask_worker_threads() or threads)
        elif self.n_jobs < 0:  # joblib's convention: -1 all cores, -2 all but one, ...
            threads = max(1, cores + 1 + self.n_jobs)
        else:
            threads = self.n_jobs
        torch.set_num_threads(threads)

    def __exit__(self, *exc):
        torch.set_num_threads(self._previous)


def _available_cores():
    """CPU cores this process may use: joblib's count honours CPU affinity and cgroup quotas
    (a container limited to 2 cores on a 64-core host counts 2), unlike ``os.cpu_count``."""
    import joblib

    return max(1, joblib.cpu_count())


def _dask_worker_threads():
    """The thread count of the Dask worker running this code, or None outside Dask."""
    import sys

    distributed = sys.modules.get("distributed")  # never imported here: a worker has it
    if distributed is None:
        return None
    try:
        worker = distributed.get_worker()
    except (ValueError, AttributeError):
        return None
    nthreads = getattr(getattr(worker, "state", worker), "nthreads", None)
    return nthreads if isinstance(nthreads, int) and nthreads > 0 else None


def _module_device(module):
    return next(module.parameters()).device


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj
