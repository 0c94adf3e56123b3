"""Stopping a sweep cleanly on SIGTERM (spot/preemptible VMs, SLURM time limits, ``kill``).

The signal handler only sets a flag; the sweep checks it between chunks (never inside one: a chunk
is one compiled program and the host does not wait on it midway). On several processes the flag is
agreed between chunks (any process asked -> all stop after the same chunk), because a process that
stopped alone would leave the others waiting in the next chunk's collectives.
"""

from __future__ import annotations

import contextlib
import signal
import threading

import numpy as np

SIGNALS = (signal.SIGTERM,)


class StopRequest:
    """Set by SIGTERM while ``installed()`` is active; ``requested()`` is the agreed answer."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def _handle(self, signum, _frame) -> None:
        self.signum = signum

    @contextlib.contextmanager
    def installed(self):
        """Catches SIGTERM for the duration (main thread only: elsewhere Python cannot install a
        handler, and the default action, ending the process, stays)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                # None: the handler was installed outside Python (it cannot be put back).
                signal.signal(s, signal.SIG_DFL if handler is None else handler)

    def requested(self) -> bool:
        """Whether any process was asked to stop. Every process must call this at the same
        points (it is a collective on several processes)."""
        import jax

        local = self.signum is not None
        if jax.process_count() == 1:
            return local
        from jax.experimental import multihost_utils
        flags = multihost_utils.process_allgather(np.int32(local))
        return bool(np.any(flags))

    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else "another process"
