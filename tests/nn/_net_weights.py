"""Snapshots of a skorch net's weights, for the warm-start tests of both estimators."""

import torch


def state(net):
    """A copy of the module's state dict, detached from the net."""
    return {k: v.detach().clone() for k, v in net.module_.state_dict().items()}


def same(a, b):
    """Whether two snapshots hold equal tensors."""
    return all(torch.equal(a[k], b[k]) for k in a)
