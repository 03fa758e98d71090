"""How torch runs the estimator's work: device, threads and random numbers.

torch keeps process-wide state that the estimator sets only for the duration of a call and
then gives back: the global random number generator (:class:`seeded` seeds it and restores
the caller's state after, so that fits and draws are reproducible without disturbing the
user's RNG) and the intra-op thread count (:class:`TorchThreads` applies ``n_jobs``, counting
the cores this process may use and staying within a Dask worker's threads). Also: the
device a module lives on, and moving (optimiser) state to the CPU for pickling.
"""
import threading

import torch


# torch's global RNG is process-wide: blocks that seed it run one thread at a time, so that
# estimators fitted or scored in threads of one process give the results they give alone
# (reentrant: a seeded block may open another in the same thread).
_RNG_LOCK = threading.RLock()


class seeded:
    """Run a block with torch's global RNG seeded, restoring the caller's RNG state after.

    Holds a process-wide lock for the block: other threads' seeded blocks wait (see
    ``_RNG_LOCK``).
    """

    def __init__(self, seed, device):
        self.seed, self.device = seed, device

    def __enter__(self):
        _RNG_LOCK.acquire()
        try:
            devices = [torch.device(self.device)] if "cuda" in str(self.device) else []
            self._fork = torch.random.fork_rng(devices=devices)
            self._fork.__enter__()
            torch.manual_seed(self.seed)
        except BaseException:
            _RNG_LOCK.release()
            raise

    def __exit__(self, *exc):
        try:
            return self._fork.__exit__(*exc)
        finally:
            _RNG_LOCK.release()


class TorchThreads:
    """Set torch's intra-op thread count for a block (see ``n_jobs``).

    The count is process-wide, so the block holds the same lock as :class:`seeded`: blocks
    of other threads wait, and each runs with its own count.
    """

    def __init__(self, n_jobs):
        self.n_jobs = n_jobs

    def __enter__(self):
        _RNG_LOCK.acquire()
        try:
            self._set()
        except BaseException:
            _RNG_LOCK.release()
            raise

    def _set(self):
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
        try:
            torch.set_num_threads(self._previous)
        finally:
            _RNG_LOCK.release()


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


def module_device(module):
    return next(module.parameters()).device


def to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_cpu(v) for v in obj]
    return obj


def check_device(device, param="device"):
    """Raise a ValueError naming ``param`` unless ``device`` is a torch device that exists here.

    Checked before training, so that a typo (``"tpu0"``, ``"gpu"``) or a device this machine
    lacks (``"cuda"`` without CUDA, ``"cuda:3"`` with two GPUs) fails with a clear message
    rather than deep inside torch.
    """
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"{param}={device!r} is not a torch device; use 'auto', 'cpu', 'cuda', 'cuda:<index>' "
            "or 'mps'"
        ) from None
    kind = parsed.type
    if kind == "cpu":
        return
    if kind == "meta":
        raise ValueError(f"{param}={device!r}: the meta device holds no data and cannot train a model")
    if kind == "mps":
        available = torch.backends.mps.is_available()
    else:
        backend = getattr(torch, kind, None)
        if backend is None or not callable(getattr(backend, "is_available", None)):
            raise ValueError(f"{param}={device!r}: skmmvae cannot train on {kind!r} devices here")
        available = backend.is_available()
    if not available:
        raise ValueError(
            f"{param}={device!r}: {kind.upper()} is not available on this machine "
            f"(torch {torch.__version__}); use device='cpu', or 'auto' to use {kind.upper()} "
            "only where it is available"
        )
    count = getattr(getattr(torch, kind, None), "device_count", None)
    if parsed.index is not None and callable(count) and parsed.index >= count():
        raise ValueError(
            f"{param}={device!r}: this machine has {count()} {kind.upper()} device(s) "
            f"(indices 0 to {count() - 1})"
        )


def memory_limit(device):
    """Bytes of memory of ``device``: a GPU's total memory, else the machine's RAM (physical
    memory, or the container's memory limit where that is lower). None where unknown."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        index = device.index if device.index is not None else torch.cuda.current_device()
        return torch.cuda.get_device_properties(index).total_memory
    import os

    try:
        limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not on this platform
        limit = None
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as file:
                text = file.read().strip()
        except OSError:
            continue
        if text.isdigit() and (limit is None or int(text) < limit):
            limit = int(text)
    return limit


def _load_malloc_trim():
    try:
        import ctypes
        import ctypes.util

        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        return None


_MALLOC_TRIM = _load_malloc_trim()


def release_free_memory():
    """Give the C heap's free pages back to the operating system (glibc's ``malloc_trim``).

    Inference converts the user's rows chunk by chunk; between chunks, glibc's heap keeps the
    freed pages of the previous chunk's tensors, fragmented by the many smaller allocations of
    the networks, and the process's memory grows with the number of rows (1.3 GB beyond the
    input for ``score_samples`` on 10^6 rows). Trimming once per chunk keeps it bounded by a
    chunk (about 0.2 GB there) for a cost of about a millisecond. A no-op where the C library
    is not glibc.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
