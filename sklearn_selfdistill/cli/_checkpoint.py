"""Epoch checkpoints: a generation killed mid-training continues after its last epoch.

:class:`EpochCheckpoint` sits last among the callbacks of every net that ``train``
fits. After each epoch (after the other callbacks' end of epoch, the learning-rate
scheduler's step included) it writes, into ``generation_<g>.partial/`` of the run
folder, the module's weights, the optimizer's state, torch's random state (the next epoch's
shuffle and dropout draw from it), the learning-rate scheduler's state, and skorch's
history, each file written atomically, then a manifest of their SHA-256 written last. When
a resumed run fits generation ``g`` again, the callback loads that state at the start
of training, so the generation goes on with the epoch after the last one saved and ends
with the weights an uninterrupted run would have given it. The folder is removed once
the generation is written to the lineage.

A checkpoint is untrusted like every file of a run folder: weights and states are read
with ``torch.load(weights_only=True)``, each after its size and the sizes it declares
were checked against the model's own tensors, and a checkpoint whose manifest, hashes,
binding or generation do not agree, or that fails to load in any way, is set aside (the
generation starts over, with a message), never half-loaded: what was loaded into the net
before the failure is put back. A ``generation_<g>.partial`` that is not a folder (a
file, a symbolic link to a folder elsewhere) is renamed out of the way, never followed.
A checkpoint that cannot be written (a full disk) ends the run with a
:class:`~._lineage.LineageError` saying so; the run can be resumed.

Epoch checkpoints are taken where an epoch's state is all the state there is: not with
early stopping (its patience and best weights), an EMA teacher (its running average) or
a cross-fit teacher (its fold fits): there a killed generation starts over.
"""

import copy
import hashlib
import io
import json
import math
import shutil
import sys
from numbers import Real
from pathlib import Path

import torch
from skorch.callbacks import Callback, LRScheduler
from skorch.history import History

from ._errors import shorten
from ._lineage import Lineage, LineageError, _read_bounded, atomic_write, set_aside
from ._untrusted import check_torch_file

__all__ = [
    "EpochCheckpoint",
    "discard_partial",
    "module_bytes",
    "partial_folder",
    "supports_epoch_checkpoints",
]

_FILES = ("module.pt", "optimizer.pt", "rng.pt", "scheduler.pt", "history.json")
_MANIFEST = "manifest.json"
# The most bytes of the small files of a checkpoint.
_SMALL = 1 << 20
_MAX_HISTORY_BYTES = 64 << 20


def partial_folder(run, generation):
    """Where generation ``generation``'s epoch checkpoint lives."""
    return Path(run) / f"generation_{generation}.partial"


def module_bytes(module):
    """The bytes of ``module``'s tensors, parameters and buffers."""
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def _not_a_folder(folder, generation):
    """Set aside ``folder`` if it is in the way: a link (never followed) or not a folder."""
    if folder.is_symlink():
        why = (
            "is a symbolic link; a checkpoint is a folder inside the run folder, so it is not "
            "followed"
        )
    elif folder.exists() and not folder.is_dir():
        why = "is not a folder, as a checkpoint is"
    else:
        return False
    set_aside(folder, f"{why} (generation {generation} starts over)")
    return True


def discard_partial(run, generation):
    """Remove generation ``generation``'s checkpoint; set aside whatever is not one."""
    folder = partial_folder(run, generation)
    if not _not_a_folder(folder, generation):
        shutil.rmtree(folder, ignore_errors=True)  # links inside are removed, not followed


def supports_epoch_checkpoints(config):
    """Whether an epoch's state is all a generation's state under ``config``."""
    return (
        config.training.early_stopping_patience is None
        and config.distillation.ema_decay is None
        and config.training.online_distillation is None
        and config.distillation.teacher_predictions == "in_sample"
    )


def _digest(data):
    return hashlib.sha256(data).hexdigest()


def _tensor_bytes(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


class EpochCheckpoint(Callback):
    """Save each epoch of a generation; continue a generation from its last saved epoch.

    Parameters
    ----------
    run : str
        The run folder.
    binding : str
        The configuration's binding (see ``_run.binding``): a checkpoint written under
        another configuration is not loaded.
    total_epochs : int
        The epochs of a whole generation: a continued generation stops after them.
    """

    def __init__(self, run=None, binding=None, total_epochs=None):
        self.run = run
        self.binding = binding
        self.total_epochs = total_epochs

    def initialize(self):
        self.generation_ = None
        self.continued_from_ = 0
        self.pending_scheduler_ = None
        return self

    # -- training ------------------------------------------------------------------

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.generation_ = len(Lineage(self.run).finished(self.binding))
        folder = partial_folder(self.run, self.generation_)
        if _not_a_folder(folder, self.generation_) or not folder.exists():
            return
        before = _snapshot(net)
        try:
            state = self._read(folder, net)
            self._load(net, state)
        except Exception as exc:  # whatever fails, the generation starts over unharmed
            _restore(net, before)
            self.pending_scheduler_ = None
            print(
                f"Generation {self.generation_}: its epoch checkpoint is not usable "
                f"({shorten(exc, 500)}); the generation starts over.",
                file=sys.stderr,
                flush=True,
            )
            shutil.rmtree(folder, ignore_errors=True)
            return
        self.continued_from_ = len(state["history"])
        print(
            f"Generation {self.generation_}: continuing after epoch {self.continued_from_} "
            f"of {self.total_epochs}, from its epoch checkpoint.",
            flush=True,
        )

    def _load(self, net, state):
        net.module_.load_state_dict(state["module"])
        net.optimizer_.load_state_dict(state["optimizer"])
        _check_scheduler(net, state["scheduler"])
        net.history = History(state["history"])
        torch.set_rng_state(state["rng"])
        self.pending_scheduler_ = state["scheduler"]

    def on_epoch_begin(self, net, **kwargs):
        if self.pending_scheduler_ is None:
            return
        # skorch's LRScheduler made its scheduler anew at the start of training, before
        # this callback loaded the optimizer; the saved one, and the learning rates it
        # had set for the next epoch, replace it.
        saved, self.pending_scheduler_ = self.pending_scheduler_, None
        for _, callback in net.callbacks_:
            if isinstance(callback, LRScheduler) and saved.get("state") is not None:
                callback.lr_scheduler_.load_state_dict(saved["state"])
        for group, lr in zip(net.optimizer_.param_groups, saved["lrs"], strict=True):
            group["lr"] = lr

    def on_epoch_end(self, net, **kwargs):
        folder = partial_folder(self.run, self.generation_)
        _not_a_folder(folder, self.generation_)  # put there while training: not followed
        schedulers = [cb for _, cb in net.callbacks_ if isinstance(cb, LRScheduler)]
        scheduler = {
            "state": schedulers[0].lr_scheduler_.state_dict() if schedulers else None,
            "lrs": [group["lr"] for group in net.optimizer_.param_groups],
        }
        files = {
            "module.pt": _tensor_bytes(net.module_.state_dict()),
            "optimizer.pt": _tensor_bytes(net.optimizer_.state_dict()),
            "rng.pt": _tensor_bytes(torch.get_rng_state()),
            "scheduler.pt": _tensor_bytes(scheduler),
            "history.json": json.dumps(net.history.to_list(), default=float).encode(),
        }
        manifest = {
            "generation": self.generation_,
            "epoch": len(net.history),
            "binding": self.binding,
            "sha256": {name: _digest(data) for name, data in files.items()},
        }
        files[_MANIFEST] = json.dumps(manifest).encode()
        path = folder
        try:
            folder.mkdir(exist_ok=True)
            for name, data in files.items():  # the manifest last
                path = folder / name
                atomic_write(path, data)
        except OSError as exc:
            raise LineageError(
                f"cannot write the epoch checkpoint of generation {self.generation_} "
                f"({shorten(path)}): {exc.strerror or exc}."
            ) from None
        if self.continued_from_ and len(net.history) >= self.total_epochs:
            raise KeyboardInterrupt  # skorch's way to end training (as EarlyStopping)

    # -- reading ---------------------------------------------------------------------

    def _read(self, folder, net):
        manifest_path = folder / _MANIFEST
        if manifest_path.is_symlink() or not manifest_path.is_file():
            raise LineageError(f"{manifest_path} is not a regular file")
        manifest = json.loads(_read_bounded(manifest_path, _SMALL, "checkpoint manifest"))
        if not isinstance(manifest, dict) or manifest.get("binding") != self.binding:
            raise LineageError("it was written under another configuration")
        if manifest.get("generation") != self.generation_:
            raise LineageError(f"it is not generation {self.generation_}'s")
        if not isinstance(manifest.get("sha256"), dict) or set(manifest["sha256"]) != set(_FILES):
            raise LineageError("its manifest does not name its files")
        weights = module_bytes(net.module_)
        # Adam keeps two tensors per parameter, SGD with momentum one.
        limits = {
            "module.pt": weights + 4096,
            "optimizer.pt": 3 * weights + _SMALL,
            "rng.pt": _SMALL,
            "scheduler.pt": _SMALL,
            "history.json": _MAX_HISTORY_BYTES,
        }
        data = {}
        for name in _FILES:
            path = folder / name
            if path.is_symlink() or not path.is_file():
                raise LineageError(f"{path} is not a regular file")
            if name.endswith(".pt"):  # what its zip directory declares, before reading it
                check_torch_file(path, limits[name])
            data[name] = _read_bounded(path, 2 * limits[name] + _SMALL, "checkpoint file")
            if _digest(data[name]) != manifest["sha256"][name]:
                raise LineageError(f"{path} does not match the manifest")
            if name.endswith(".pt"):
                check_torch_file(path, limits[name], data=data[name])

        def tensors(name):
            return torch.load(io.BytesIO(data[name]), weights_only=True, map_location="cpu")

        history = json.loads(data["history.json"])
        if not isinstance(history, list) or len(history) != manifest.get("epoch"):
            raise LineageError("its history does not have one row per saved epoch")
        if not all(isinstance(row, dict) for row in history):
            raise LineageError("its history is not a list of epochs")
        if not 0 < len(history) < self.total_epochs:
            raise LineageError(f"it holds {len(history)} of {self.total_epochs} epochs")
        return {
            "module": tensors("module.pt"),
            "optimizer": tensors("optimizer.pt"),
            "rng": tensors("rng.pt"),
            "scheduler": tensors("scheduler.pt"),
            "history": history,
        }


def _snapshot(net):
    """What loading a checkpoint changes in ``net``, to put back if it fails."""
    return {
        "module": copy.deepcopy(net.module_.state_dict()),
        "optimizer": copy.deepcopy(net.optimizer_.state_dict()),
        "history": net.history,
        "rng": torch.get_rng_state(),
    }


def _restore(net, before):
    net.module_.load_state_dict(before["module"])
    net.optimizer_.load_state_dict(before["optimizer"])
    net.history = before["history"]
    torch.set_rng_state(before["rng"])


def _same_kind(saved, current):
    if isinstance(current, Real) and not isinstance(current, bool):
        return isinstance(saved, Real) and not isinstance(saved, bool)
    return type(saved) is type(current)


def _check_scheduler(net, saved):
    """The saved scheduler fits ``net``'s: its keys and kinds of values, one lr per group."""
    groups = net.optimizer_.param_groups
    if not isinstance(saved, dict) or set(saved) != {"state", "lrs"}:
        raise LineageError("its scheduler state is not what this command writes")
    lrs = saved["lrs"]
    if not (
        isinstance(lrs, list)
        and len(lrs) == len(groups)
        and all(_same_kind(lr, 0.0) and math.isfinite(lr) and lr >= 0 for lr in lrs)
    ):
        raise LineageError(f"its learning rates are not {len(groups)} numbers >= 0")
    schedulers = [cb for _, cb in net.callbacks_ if isinstance(cb, LRScheduler)]
    state = saved["state"]
    if not schedulers:
        if state is not None:
            raise LineageError("it holds a learning-rate schedule this run does not have")
        return
    current = schedulers[0].lr_scheduler_.state_dict()
    if not (
        isinstance(state, dict)
        and set(state) == set(current)
        and all(_same_kind(state[key], current[key]) for key in current)
    ):
        raise LineageError("its learning-rate schedule is not this run's")
