import os

# scikit-learn runs its array-API input check (numpy namespace) only when SciPy's
# array API support is on, and SciPy reads this once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
