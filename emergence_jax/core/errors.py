"""User-facing errors. The CLI prints their message (no traceback) and exits with status 2."""


class EmergenceError(Exception):
    """Base class: an error whose message is written for the user."""


class ConfigError(EmergenceError, ValueError):
    """A configuration field has a wrong name, type or value."""


class DataError(EmergenceError, ValueError):
    """Input data (a CSV, arrays) is malformed; the message names the row/column or field."""


class StoreError(EmergenceError):
    """A run store, checkpoint or saved fit is missing, corrupt, foreign or incompatible."""


# Exit status of a run stopped by SIGTERM after writing a checkpoint (EX_TEMPFAIL in sysexits.h):
# "rerun me". Launch scripts re-queue a job that exits with it.
EXIT_PREEMPTED = 75


class Preempted(Exception):
    """The run was asked to stop (SIGTERM: a spot VM's or scheduler's preemption notice) and
    stopped between chunks with its progress saved; rerunning the same command resumes it. Not
    an ``EmergenceError``: the CLI exits with ``EXIT_PREEMPTED``, not 2."""
