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
with ``torch.load(weights_only=True)``, and a checkpoint whose manifest, hashes, binding
or generation do not agree is set aside (the generation starts over, with a message),
never half-loaded.

Epoch checkpoints are taken where an epoch's state is all the state there is: not with
early stopping (its patience and best weights), an EMA teacher (its running average) or
a cross-fit teacher (its fold fits): there a killed generation starts over.
"""

import hashlib
import io
import json
import shutil
import sys
from pathlib import Path

import torch
from skorch.callbacks import Callback, LRScheduler
from skorch.history import History

from ._lineage import Lineage, LineageError, atomic_write

__all__ = ["EpochCheckpoint", "partial_folder", "supports_epoch_checkpoints"]

_FILES = ("module.pt", "optimizer.pt", "rng.pt", "scheduler.pt", "history.json")
_MANIFEST = "manifest.json"


def partial_folder(run, generation):
    """Where generation ``generation``'s epoch checkpoint lives."""
    return Path(run) / f"generation_{generation}.partial"


def supports_epoch_checkpoints(config):
    """Whether an epoch's state is all a generation's state under ``config``."""
    return (
        config.training.early_stopping_patience is None
        and config.distillation.ema_decay is None
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
        if not folder.exists():
            return
        try:
            state = self._read(folder)
        except (LineageError, OSError, RuntimeError, ValueError, KeyError) as exc:
            print(
                f"Generation {self.generation_}: its epoch checkpoint is not usable "
                f"({exc}); the generation starts over.",
                file=sys.stderr,
                flush=True,
            )
            shutil.rmtree(folder, ignore_errors=True)
            return
        net.module_.load_state_dict(state["module"])
        net.optimizer_.load_state_dict(state["optimizer"])
        net.history = History(state["history"])
        torch.set_rng_state(state["rng"])
        self.pending_scheduler_ = state["scheduler"]
        self.continued_from_ = len(state["history"])
        print(
            f"Generation {self.generation_}: continuing after epoch {self.continued_from_} "
            f"of {self.total_epochs}, from its epoch checkpoint.",
            flush=True,
        )

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
        folder.mkdir(exist_ok=True)
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
        for name, data in files.items():
            atomic_write(folder / name, data)
        manifest = {
            "generation": self.generation_,
            "epoch": len(net.history),
            "binding": self.binding,
            "sha256": {name: _digest(data) for name, data in files.items()},
        }
        atomic_write(folder / _MANIFEST, json.dumps(manifest).encode())
        if self.continued_from_ and len(net.history) >= self.total_epochs:
            raise KeyboardInterrupt  # skorch's way to end training (as EarlyStopping)

    # -- reading ---------------------------------------------------------------------

    def _read(self, folder):
        manifest = json.loads((folder / _MANIFEST).read_bytes())
        if not isinstance(manifest, dict) or manifest.get("binding") != self.binding:
            raise LineageError("it was written under another configuration")
        if manifest.get("generation") != self.generation_:
            raise LineageError(f"it is not generation {self.generation_}'s")
        if set(manifest.get("sha256", {})) != set(_FILES):
            raise LineageError("its manifest does not name its files")
        data = {}
        for name in _FILES:
            path = folder / name
            if path.is_symlink() or not path.is_file():
                raise LineageError(f"{path} is not a regular file")
            data[name] = path.read_bytes()
            if _digest(data[name]) != manifest["sha256"][name]:
                raise LineageError(f"{path} does not match the manifest")

        def tensors(name):
            return torch.load(io.BytesIO(data[name]), weights_only=True, map_location="cpu")

        history = json.loads(data["history.json"])
        if not isinstance(history, list) or len(history) != manifest.get("epoch"):
            raise LineageError("its history does not have one row per saved epoch")
        if not 0 < len(history) < self.total_epochs:
            raise LineageError(f"it holds {len(history)} of {self.total_epochs} epochs")
        return {
            "module": tensors("module.pt"),
            "optimizer": tensors("optimizer.pt"),
            "rng": tensors("rng.pt"),
            "scheduler": tensors("scheduler.pt"),
            "history": history,
        }
