"""Errors vaekit raises on purpose: each names the input and the problem.

The CLI catches `VaekitError` and prints its message without a traceback; anything
else reaching the CLI is a bug in vaekit.
"""


class VaekitError(Exception):
    """Base class of the errors a user can fix: bad data, bad config, bad run folder."""


class ConfigError(VaekitError, ValueError):
    """A configuration value (flag, config file field) is invalid."""


class DataError(VaekitError):
    """A data file or folder is missing, unreadable or malformed."""


class CheckpointError(VaekitError):
    """A run folder or checkpoint is missing, incomplete or corrupted."""


class TrainingError(VaekitError):
    """Training cannot go on (e.g. too many non-finite steps in a row)."""
