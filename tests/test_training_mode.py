"""The nets set training/evaluation mode as skorch does, without walking the module tree
when every submodule is already in the mode."""
import numpy as np
import torch

from skmmvae import MultiModalVAE
from skmmvae._net import MultiModalNet

from conftest import SMALL


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return {"a": rng.normal(size=(n, 3)), "b": rng.normal(size=(n, 2))}


def test_modes_are_set_as_skorch_sets_them_and_train_runs_only_on_a_change(monkeypatch):
    est = MultiModalVAE(**{**SMALL, "max_epochs": 1}).fit(_data())
    net = est.net_
    calls = []
    original = torch.nn.Module.train

    def counting(self, mode=True):
        calls.append((type(self).__name__, mode))
        return original(self, mode)

    monkeypatch.setattr(torch.nn.Module, "train", counting)
    net._set_training(False)
    net._set_training(True)
    assert all(m.training for m in net.module_.modules())
    assert all(m.training for m in net.criterion_.modules())
    before = len(calls)
    assert before > 0
    net._set_training(True)  # already so: no walk of the tree
    assert len(calls) == before
    net._set_training(False)
    assert not any(m.training for m in net.module_.modules())
    # a submodule put in the other mode (by a callback, say) is reset, as skorch does
    net.module_.encoders[0].train()
    net._set_training(False)
    assert not any(m.training for m in net.module_.modules())


def test_a_new_module_object_is_seen():
    est = MultiModalVAE(**{**SMALL, "max_epochs": 1}).fit(_data())
    net = est.net_
    net._set_training(True)
    replacement = MultiModalVAE(**{**SMALL, "max_epochs": 0}).fit(_data()).module_.eval()
    net.module_ = replacement
    net._set_training(True)
    assert all(m.training for m in replacement.modules())
    assert isinstance(net, MultiModalNet)
