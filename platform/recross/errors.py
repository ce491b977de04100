"""Errors a user can act on: each message names the problem and the fix.

The CLI prints these without a traceback and exits non-zero; anything else is a bug.
"""


class RecrossError(Exception):
    """Base class of every error whose message is meant for the user."""


class ConfigError(RecrossError):
    """A setting, profile or config file is wrong."""


class DataError(RecrossError):
    """A data file, example, task name or query set is wrong or missing."""


class MissingProductError(DataError):
    """A step's input has not been produced yet (query sets, a retrieved set, an adapted model,
    evaluations). ``product`` names it in the library's terms, so a caller that knows how it is
    built (a Dagster asset, a CLI command) can add that to the message."""

    def __init__(self, message: str, *, product: str) -> None:
        super().__init__(message)
        self.product = product


class IndexStoreError(RecrossError):
    """The example index is unreachable, incompatible or incomplete."""


class ModelError(RecrossError):
    """A checkpoint is missing, not a model, or does not match its base."""


class TrackingError(RecrossError):
    """The MLflow tracking store cannot be reached or written."""
