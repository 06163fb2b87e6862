"""The in-memory data path of the nets the library trains, and the classes that carry it.

skorch feeds a net through a ``DataLoader`` over its ``Dataset``: every row is indexed
on its own, the rows of a batch are collated by Python code and each batch is copied to
the net's device. When ``X`` and ``y`` are arrays or tensors already in memory and the
user chose no data set, loader, sampler or collate function of their own, all that work
only cuts the arrays into batches. :class:`TensorBatches` does that directly: the data
is moved to the net's device once per ``fit``, and a batch is one slice (shuffled: one
gather by a permutation of the rows), with no per-sample Python work and no per-batch
host copy. It draws torch's global random numbers exactly as the ``DataLoader`` would
(one draw per epoch for the loader's base seed, one more for a shuffling sampler's
seed, then the same ``randperm``), so that a net trained through it gets the batches,
the dropout masks and the weights of skorch's own path, bit for bit.

Anything else falls back to skorch's path unchanged: a custom ``Dataset`` or
``get_dataset``, a ``DataLoader`` subclass, a sampler, a collate function, a generator,
a dict or DataFrame ``X``, a ``y`` of None, or a class in front of the library's that
overrides ``get_iterator`` (``skorch.hf.AccelerateMixin`` does: Accelerate shards the
loader across processes).

An ``iterator_train`` that records the order of the training rows (the recorder of
``online.OnlineSelfDistillation``) stands for the loader class in its ``stands_for``,
whose settings decide as above; the batches then give it each epoch's permutation
through the callable its ``listen(n_rows, batch_size)`` returns, and draw nothing more.

The user's own net class is kept: :func:`library_class` builds, at run time, a subclass
of the user's class with the library's behaviour behind the user's overrides in the
method resolution order (``UserNet -> library class -> NeuralNetClassifier``), so a
``train_step``, ``get_loss`` or ``infer`` of the user's runs in every generation and
reaches the library's by ``super()``.
"""

import importlib
import warnings
import weakref

import numpy as np
import torch
from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from torch.utils.data import DataLoader, Subset

# DataLoader arguments that change how fast batches arrive, never what they hold.
_SPEED_ONLY = frozenset(
    {
        "batch_size",
        "shuffle",
        "drop_last",
        "num_workers",
        "pin_memory",
        "pin_memory_device",
        "persistent_workers",
        "prefetch_factor",
        "timeout",
        "in_order",
    }
)

# On a GPU, the data moves to the device when it takes at most this share of the free
# memory; beyond it, it stays in pinned host memory and each batch is copied.
DEVICE_MEMORY_SHARE = 0.25


def _as_tensor(array):
    """A CPU tensor of ``array`` (shared with numpy where possible, never written to)."""
    if isinstance(array, torch.Tensor):
        return array
    array = np.asarray(array)
    if array.dtype.kind not in "biufc":
        return None  # strings, objects: skorch's path says what is wrong with them
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    with warnings.catch_warnings():
        # A read-only array is fine: the batches are gathered copies.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.as_tensor(array)


def plain_tensors(dataset):
    """``(X, y)`` tensors of a skorch ``Dataset`` that only holds arrays, else None.

    A ``Subset`` of one (skorch's ``ValidSplit``) gives its rows.
    """
    rows = None
    if isinstance(dataset, Subset) and type(dataset) is Subset:
        rows, dataset = np.asarray(dataset.indices, dtype=np.int64), dataset.dataset
    if type(dataset) is not Dataset:
        return None
    X, y = dataset.X, dataset.y
    if not all(isinstance(part, np.ndarray | torch.Tensor) for part in (X, y)):
        return None
    if rows is not None:
        X, y = X[rows], y[rows]
    X, y = _as_tensor(X), _as_tensor(y)
    if X is None or y is None or X.ndim == 0 or y.ndim == 0:
        return None
    return X, y


def data_device(nbytes, device, free_bytes=None):
    """Where the data of a fit lives: ``device``, or ``"cpu"`` for a GPU short of memory."""
    device = torch.device(device)
    if device.type != "cuda":
        return device
    if free_bytes is None:
        free_bytes = torch.cuda.mem_get_info(device)[0]
    return device if nbytes <= DEVICE_MEMORY_SHARE * free_bytes else torch.device("cpu")


class TensorBatches:
    """Batches of ``(X, y)`` sliced from tensors, as skorch's ``DataLoader`` would give them.

    Parameters
    ----------
    X, y : Tensor
        The data, on the device it will be sliced on.
    batch_size : int
    shuffle, drop_last : bool
        As for ``DataLoader``.
    device : torch.device
        Where the batches go (the net's device); when it is not the data's, each batch
        is copied there without blocking.
    on_order : callable or None, default=None
        Called at the start of every epoch with the permutation of the rows (a tensor
        on the data's device), or None when they come in their own order.
    """

    def __init__(self, X, y, batch_size, shuffle, drop_last, device, on_order=None):
        self.X, self.y = X, y
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.device = device
        self.on_order = on_order

    def __len__(self):
        n = self.X.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = self.X.shape[0]
        # The draws of torch's global generator a DataLoader makes: its iterator's base
        # seed, then (shuffled) the RandomSampler's own seed for its randperm.
        torch.empty((), dtype=torch.int64).random_()
        order = None
        if self.shuffle:
            seed = int(torch.empty((), dtype=torch.int64).random_().item())
            generator = torch.Generator()
            generator.manual_seed(seed)
            order = torch.randperm(n, generator=generator).to(self.X.device)
        if self.on_order is not None:
            self.on_order(order)
        stop = n - n % self.batch_size if self.drop_last else n
        moves = self.X.device != self.device
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, n)
            if order is None:
                # Copies, as a DataLoader's are: a callback may change a batch in place.
                Xi, yi = self.X[start:end].clone(), self.y[start:end].clone()
            else:
                rows = order[start:end]
                Xi, yi = self.X[rows], self.y[rows]
            if moves:
                Xi = Xi.to(self.device, non_blocking=True)
                yi = yi.to(self.device, non_blocking=True)
            yield Xi, yi


def _in_mode(tree, training):
    """Whether ``train(training)`` would leave every module of ``tree`` as it is."""
    train = torch.nn.Module.train
    return all(m.training == training and type(m).train is train for m in tree)


class TensorBatchesMixin:
    """``get_iterator`` through :class:`TensorBatches` where skorch would only slice arrays."""

    def get_iterator(self, dataset, training=False):
        batches = self._tensor_batches(dataset, training)
        return batches if batches is not None else super().get_iterator(dataset, training)

    def _tensor_batches(self, dataset, training):
        kwargs = sliced_batch_settings(self, training)
        if kwargs is None or self.device is None:
            return None
        tensors = plain_tensors(dataset)
        if tensors is None:
            return None
        X, y = tensors
        batch_size = kwargs.get("batch_size", self.batch_size)
        if batch_size in (None, -1):
            batch_size = max(1, X.shape[0])
        device = torch.device(self.device)
        home = data_device(X.nbytes + y.nbytes, device)
        if home.type == "cpu" and device.type == "cuda":
            X, y = X.pin_memory(), y.pin_memory()
        listen = getattr(self.iterator_train, "listen", None) if training else None
        return TensorBatches(
            X.to(home),
            y.to(home),
            int(batch_size),
            bool(kwargs.get("shuffle", False)),
            bool(kwargs.get("drop_last", False)),
            device,
            on_order=None if listen is None else listen(X.shape[0], int(batch_size)),
        )

    def _set_training(self, training=True):
        # skorch calls this before every batch, and Module.train walks the whole tree
        # setting attributes (a tenth of a small net's step). Skip the trees already
        # wholly in that mode whose classes keep torch's own ``train``: for them the
        # call would change nothing. The trees are listed once per fit.
        trees = self._per_fit_cache()["trees"]
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if not isinstance(module, torch.nn.Module):
                continue
            tree = trees.get(name)
            if tree is None or tree[0] is not module:
                tree = trees[name] = tuple(module.modules())
            if not _in_mode(tree, training):
                module.train(training)

    def notify(self, method_name, **cb_kwargs):
        # skorch calls every callback three times a batch, most of them Callback's
        # empty methods: call only the hooks that do something (listed once per set
        # of callbacks), in skorch's order, the net's own first.
        cache = self._per_fit_cache()
        if cache["callbacks"] is not self.callbacks_:
            cache["callbacks"], cache["hooks"] = self.callbacks_, {}
        hooks = cache["hooks"].get(method_name)
        if hooks is None:
            empty = getattr(Callback, method_name, None)
            hooks = cache["hooks"][method_name] = [
                getattr(callback, method_name)
                for _, callback in self.callbacks_
                if empty is None
                or getattr(type(callback), method_name, None) is not empty
                or method_name in vars(callback)
            ]
        getattr(self, method_name)(self, **cb_kwargs)
        for hook in hooks:
            hook(self, **cb_kwargs)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self._per_fit_cache()["trees"].clear()  # modules may be replaced between fits
        return super().on_train_begin(net, X=X, y=y, **kwargs)

    def _per_fit_cache(self):
        """What the per-batch methods list once per fit; never pickled."""
        cache = self.__dict__.get("fast_cache_")
        if cache is None:
            cache = self.__dict__["fast_cache_"] = {"trees": {}, "callbacks": None}
        return cache

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("fast_cache_", None)
        return state


def sliced_batch_settings(net, training):
    """The loader's settings where feeding ``net`` only cuts arrays into batches, else None.

    The one rule of the nn layer for its own data path, for training batches
    (:class:`TensorBatchesMixin`) and teacher predictions (``_outputs.teacher_logits``)
    alike: skorch's default data set and ``DataLoader``, no ``get_dataset`` or
    ``get_iterator`` of a class in front (``AccelerateMixin`` shards the loader), and
    only loader settings that change how fast batches come, never what they hold.
    """
    cls = type(net)
    if cls.get_iterator not in (NeuralNet.get_iterator, TensorBatchesMixin.get_iterator):
        return None
    if cls.get_dataset is not NeuralNet.get_dataset or net.dataset is not Dataset:
        return None
    loader = net.iterator_train if training else net.iterator_valid
    loader = getattr(loader, "stands_for", loader)  # a recorder of the rows' order
    settings = net.get_params_for("iterator_train" if training else "iterator_valid")
    if loader is not DataLoader or not set(settings) <= _SPEED_ONLY:
        return None
    return settings


class TensorBatchNetClassifier(TensorBatchesMixin, NeuralNetClassifier):
    """A ``NeuralNetClassifier`` fed by :class:`TensorBatches` where it can be."""


class TensorBatchNetRegressor(TensorBatchesMixin, NeuralNetRegressor):
    """A ``NeuralNetRegressor`` fed by :class:`TensorBatches` where it can be."""


# The classes library_class made that are still in use: a class no net refers to any
# more is collected, so the cache does not grow with every user class ever seen.
_made = weakref.WeakValueDictionary()
_TOKEN_PREFIX = "library_class_"


def library_class(user_class, behaviour):
    """``user_class`` with the library's ``behaviour`` behind its own overrides.

    ``behaviour`` is one of the library's subclasses of the skorch class that
    ``user_class`` derives from. The result's method resolution order is
    ``user_class``, then ``behaviour`` and the library classes it derives from, then
    skorch's: a method the user overrides runs, and its ``super()`` call reaches the
    library's. A plain skorch class (or one already derived from ``behaviour``) gives
    ``behaviour`` (or ``user_class``) itself.

    The class made keeps the user's ``__name__`` and is importable by reference as an
    attribute of this module (its ``__qualname__`` names both classes), so that pickle
    and other persistence stores it, and rebuilds it in another process, as it does
    an ordinary class: where ``user_class`` itself can be imported.
    """
    if issubclass(user_class, behaviour):
        return user_class
    if user_class in behaviour.__mro__:
        return behaviour
    made = _made.get((user_class, behaviour))
    if made is None:
        made = _made[(user_class, behaviour)] = type(
            user_class.__name__,
            (user_class, behaviour),
            {
                "__module__": __name__,
                "__qualname__": _token(user_class, behaviour),
                "__doc__": user_class.__doc__,
            },
        )
    return made


def _token(user_class, behaviour):
    """An identifier that names both classes: ``library_class_<hex of their paths>``."""
    paths = "|".join(f"{cls.__module__}:{cls.__qualname__}" for cls in (user_class, behaviour))
    return _TOKEN_PREFIX + paths.encode().hex()


def _import_class(path):
    module_name, _, qualname = path.partition(":")
    found = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def __getattr__(name):
    """A class of :func:`library_class` by its ``__qualname__`` (how pickle finds it)."""
    if name.startswith(_TOKEN_PREFIX):
        try:
            paths = bytes.fromhex(name[len(_TOKEN_PREFIX) :]).decode().split("|")
            user_class, behaviour = (_import_class(path) for path in paths)
        except (ValueError, ImportError, AttributeError) as exc:
            raise AttributeError(
                f"module {__name__!r} cannot rebuild class {name!r}: {exc}"
            ) from exc
        return library_class(user_class, behaviour)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def as_user_class(net, user_class):
    """A net fit through a :func:`library_class` of ``TensorBatchNet*``, as ``user_class``.

    Those classes add speed only: the fitted net is the user's plain fit (bit for bit),
    so it goes back to being exactly an instance of the user's class.
    """
    net.__dict__.pop("fast_cache_", None)
    net.__class__ = user_class
    return net
