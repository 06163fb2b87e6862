import os
import signal

# scikit-learn runs its array-API input check (numpy namespace) only when SciPy's
# array API support is on, and SciPy reads this once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# A shell without job control starts its background jobs with SIGINT ignored, and Python
# then installs no KeyboardInterrupt handler: the Ctrl-C tests would test nothing. Give
# the test process Python's own handler (its subprocesses then start with the default).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
