"""Two generations of an AccelerateMixin net, data-parallel over the launched processes.

Run by tests/nn/test_fast.py with two CPU processes:
``ACCELERATE_USE_CPU=1 python -m torch.distributed.run --standalone --nproc_per_node 2
tests/nn/_accelerate_script.py OUT_DIR``; each process writes ``rank<r>.json`` there
(not to the shared standard output, where two lines can interleave).
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier
from skorch.hf import AccelerateMixin

from sklearn_selfdistill import SelfDistillationClassifier
from sklearn_selfdistill.nn.models import MLP


class AcceleratedNet(AccelerateMixin, NeuralNetClassifier):
    pass


class CpuAccelerator(Accelerator):
    """accelerate wraps even a criterion without parameters in DDP on several CPU
    processes (DDP then refuses it); on GPUs it leaves such modules alone. Do the same."""

    def prepare_model(self, model, *args, **kwargs):
        if not any(p.requires_grad for p in model.parameters()):
            return model
        return super().prepare_model(model, *args, **kwargs)


def main(out_dir):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X, y = (X / 16).astype(np.float32), y.astype(np.int64)
    accelerator = CpuAccelerator()
    net = AcceleratedNet(
        MLP,
        module__in_features=64,
        module__num_classes=10,
        module__hidden_units=64,
        accelerator=accelerator,
        device=None,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=5,
        batch_size=32,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )
    model = SelfDistillationClassifier(net, n_generations=2, alpha=0.5).fit(X, y)
    proba = model.predict_proba(X)
    report = {
        "rank": accelerator.process_index,
        "processes": accelerator.num_processes,
        "batches": [g.history[-1, "train_batch_count"] for g in model.generations_],
        "accuracy": float((proba.argmax(1) == y).mean()),
        "proba": proba[:5].round(6).tolist(),
    }
    out = Path(out_dir) / f"rank{accelerator.process_index}.json"
    out.write_text(json.dumps(report))


if __name__ == "__main__":  # not when pytest imports it for doctests
    main(sys.argv[1])
