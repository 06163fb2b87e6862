"""The errors the command reports in one line, without a traceback."""

__all__ = ["ConfigError", "DataUnavailableError"]


class ConfigError(ValueError):
    """An unknown key or a bad value in the configuration (exit status 2)."""


class DataUnavailableError(Exception):
    """The data set cannot be loaded: not downloaded, no network, unreadable (exit status 1)."""
