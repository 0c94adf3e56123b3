"""User-facing errors. The CLI prints their message (no traceback) and exits with status 2."""


class EmergenceError(Exception):
    """Base class: an error whose message is written for the user."""


class ConfigError(EmergenceError, ValueError):
    """A configuration field has a wrong name, type or value."""


class DataError(EmergenceError, ValueError):
    """Input data (a CSV, arrays) is malformed; the message names the row/column or field."""


class StoreError(EmergenceError):
    """A run store, checkpoint or saved fit is missing, corrupt, foreign or incompatible."""
