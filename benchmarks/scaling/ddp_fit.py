"""Fit one MultiModalVAE data-parallel over the processes of a launcher.

Each process fits the same estimator on the same data with an ``accelerate.Accelerator``; the
rows of every epoch are split among the processes and the gradients averaged. Launch it with
one of::

    accelerate launch --multi_gpu --num_processes 2 benchmarks/scaling/ddp_fit.py --out OUT
    torchrun --standalone --nproc_per_node 2 benchmarks/scaling/ddp_fit.py --out OUT
    python benchmarks/scaling/ddp_fit.py --out OUT                   # one process
    python benchmarks/scaling/ddp_fit.py --no-accelerator --out OUT  # an ordinary fit

(on a machine without GPUs, ``--multi_gpu`` just selects torch's multi-process launcher; the
processes train on the CPU, with the ``gloo`` backend over loopback).

Every process ``r`` writes to ``OUT``: ``rank{r}.json`` (world size, torch threads, fit
seconds between two barriers after a warm-up, optimiser steps per epoch, losses per epoch),
``rank{r}_init.pt`` and ``rank{r}_final.pt`` (the module's weights before and after training).
Process 0 also pickles the fitted estimator to ``estimator.pkl``: a plain ``MultiModalVAE``
that loads anywhere, without accelerate. ``tests/test_scale_out.py`` and
``benchmarks/scaling/run.py`` use this script.

The default set-up is the paper's T1 experiment (``make_linear_gaussian``, 5 modalities,
encoders 2 x 256, batch 500 per process); ``--tiny`` is a seconds-long one for the tests.
"""
import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

import torch
from skorch.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from skmmvae import MultiModalVAE  # noqa: E402
from skmmvae.datasets import make_linear_gaussian  # noqa: E402


class SaveInitialWeights(Callback):
    """Save the module's weights when training begins; note torch's thread count then."""

    def __init__(self, path):
        self.path = path

    def on_train_begin(self, net, **kwargs):
        self.torch_threads_ = torch.get_num_threads()
        torch.save({k: v.detach().cpu().clone() for k, v in net.module_.state_dict().items()}, self.path)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for the results")
    parser.add_argument("--tiny", action="store_true", help="a tiny model and data set (tests)")
    parser.add_argument("--no-accelerator", action="store_true", help="an ordinary fit")
    parser.add_argument("--n-samples", type=int, default=5000)
    parser.add_argument("--n-modalities", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=256, help="width of the 2 hidden layers")
    parser.add_argument("--latent", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=500, help="rows per process and step")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--validation-fraction", type=float, default=0.0)
    parser.add_argument("--patience", type=int, default=0, help="early stopping patience (0: off)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.tiny:
        args.n_samples, args.n_modalities, args.hidden, args.latent = 500, 3, 16, 4
        args.batch_size = 50
    return args


def warm_up():
    """The first optimiser step of a process imports parts of torch (about a second): not timed."""
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([weight])
    weight.sum().backward()
    optimizer.step()


def load_data(args):
    """The paper's T1 data; tiny: 2 shared and 1 private latent dimensions, 4-8 features."""
    shape = dict(n_shared=2, n_private=1, dim_range=(4, 9)) if args.tiny else {}
    X, _ = make_linear_gaussian(
        n_samples=args.n_samples, n_modalities=args.n_modalities, random_state=args.seed, **shape
    )
    return X


def main(argv=None):
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.no_accelerator:
        accelerator, rank, world_size = None, 0, 1
    else:
        from accelerate import Accelerator

        accelerator = Accelerator(cpu=not torch.cuda.is_available())
        rank, world_size = accelerator.process_index, accelerator.num_processes
    X = load_data(args)
    probe = SaveInitialWeights(args.out / f"rank{rank}_init.pt")
    est = MultiModalVAE(
        n_components=args.latent,
        hidden_layer_sizes=(args.hidden, args.hidden),
        embedding_size=args.hidden,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        validation_fraction=args.validation_fraction,
        early_stopping=args.patience > 0,
        n_iter_no_change=max(args.patience, 1),
        random_state=args.seed,
        n_jobs=args.threads,
        callbacks=[probe],
        accelerator=accelerator,
    )
    warm_up()
    if accelerator is not None:
        accelerator.wait_for_everyone()
    start = time.perf_counter()
    est.fit(X)
    if accelerator is not None:
        accelerator.wait_for_everyone()
    seconds = time.perf_counter() - start

    state = {k: v.detach().cpu().clone() for k, v in est.module_.state_dict().items()}
    torch.save(state, args.out / f"rank{rank}_final.pt")
    history = est.history_
    report = {
        "rank": rank,
        "world_size": world_size,
        "pid": os.getpid(),
        "torch_threads": probe.torch_threads_,
        "fit_seconds": seconds,
        "n_iter": est.n_iter_,
        "steps_per_epoch": [h["train_batch_count"] for h in history],
        "train_loss": [h["train_loss"] for h in history],
        "valid_loss": [h.get("valid_loss") for h in history],
        "optimizer_steps": int(sum(h["train_batch_count"] for h in history)),
    }
    (args.out / f"rank{rank}.json").write_text(json.dumps(report, indent=1))
    if rank == 0:
        est.set_params(callbacks=None)  # the probe is this script's: keep the file loadable anywhere
        with open(args.out / "estimator.pkl", "wb") as file:
            pickle.dump(est, file)
        print(f"fit on {world_size} process(es): {seconds:.2f} s, {est.n_iter_} epochs, "
              f"{report['steps_per_epoch'][0]} steps per epoch and process", flush=True)


if __name__ == "__main__":
    main()
