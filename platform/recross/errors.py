"""Errors a user can act on: each message names the problem and the fix.

The CLI prints these without a traceback and exits non-zero; anything else is a bug.
"""


class RecrossError(Exception):
    """Base class of every error whose message is meant for the user."""


class ConfigError(RecrossError):
    """A setting, profile or config file is wrong."""


class DataError(RecrossError):
    """A data file, example, task name or query set is wrong or missing."""


class IndexStoreError(RecrossError):
    """The example index is unreachable, incompatible or incomplete."""


class ModelError(RecrossError):
    """A checkpoint is missing, not a model, or does not match its base."""


class TrackingError(RecrossError):
    """The MLflow tracking store cannot be reached or written."""
