"""Ctrl-C that no wrapped estimator can swallow.

skorch's ``partial_fit`` catches ``KeyboardInterrupt`` (``except KeyboardInterrupt:
pass``): a Ctrl-C during a net's epoch ends that net's training early and ``fit``
returns as if it had finished. A generation cut short that way would be kept, taught
from, and written to disk as finished. skorch's own ``EarlyStopping`` stops training by
raising ``KeyboardInterrupt`` too, so the exception alone cannot tell the two apart.

:func:`noticing_interrupts` puts a SIGINT handler in front of the one in place for the
time of a meta-estimator's ``fit``: it counts the signal, then hands it on (the
default handler raises ``KeyboardInterrupt`` as before). After every estimator fit the
meta-estimator calls :func:`raise_if_interrupted`, which raises ``KeyboardInterrupt``
if a SIGINT came while the estimator was fitting, whether or not the estimator let it
through. Only the main thread can install a signal handler: elsewhere, and where
SIGINT is ignored or ends the process without Python's handler, this does nothing.

The count belongs to the thread whose ``fit`` is running: a fit in another thread
(GridSearchCV's threading backend, a user's worker) neither shares the main thread's
handler nor sees its count.
"""

import signal
import threading
from contextlib import contextmanager


class _ThreadState(threading.local):
    """Per thread: how deep in nested blocks, and SIGINTs counted by the outermost."""

    depth = 0
    count = 0


_state = _ThreadState()


def _installable():
    return threading.current_thread() is threading.main_thread()


@contextmanager
def noticing_interrupts():
    """Count SIGINTs for the time of the block (nested blocks share the outermost)."""
    state = _state
    if state.depth or not _installable():
        state.depth += 1
        try:
            yield
        finally:
            state.depth -= 1
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):  # SIG_IGN, SIG_DFL (the process ends) or not set by Python
        yield
        return

    def counting(signum, frame):
        state.count += 1  # Python runs signal handlers in the main thread: its state
        previous(signum, frame)

    signal.signal(signal.SIGINT, counting)
    state.depth, state.count = 1, 0
    try:
        yield
    finally:
        state.depth, state.count = 0, 0
        signal.signal(signal.SIGINT, previous)


def raise_if_interrupted(what):
    """Raise ``KeyboardInterrupt`` if a SIGINT came inside :func:`noticing_interrupts`.

    ``what`` says what was cut short, for the message.
    """
    if _state.count:
        raise KeyboardInterrupt(
            f"interrupted (SIGINT) during {what}; it is not kept, as if it had not started"
        )
