"""The errors the command reports in one line, without a traceback."""

__all__ = ["ConfigError", "DataUnavailableError", "shorten"]

#: The most characters of a value, path or file content an error message quotes.
QUOTE_LIMIT = 200


class ConfigError(ValueError):
    """An unknown key or a bad value in the configuration (exit status 2)."""


class DataUnavailableError(Exception):
    """The data set cannot be loaded: not downloaded, no network, unreadable (exit status 1)."""


def shorten(text, limit=QUOTE_LIMIT):
    """``text`` (a str, or anything as its ``str``), its middle left out past ``limit``.

    What a message quotes from a user or a file (a value, a path, a line of YAML) may be
    megabytes long; the message keeps its start and its end.

    Examples
    --------
    >>> from sklearn_selfdistill.cli._errors import shorten
    >>> shorten("a" * 10, limit=20)
    'aaaaaaaaaa'
    >>> shorten("a" * 30 + "b" * 30, limit=20)
    'aaaaaaaaaa...(40 more characters)...bbbbbbbbbb'
    """
    text = str(text)
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}...({len(text) - 2 * half} more characters)...{text[-half:]}"
