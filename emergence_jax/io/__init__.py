"""Layer 2 of 4 — storage: locations (the only URL parsing and atomic write), the run store,
population checkpoints, fit storage and seed tables (CSV). May use ``core``."""
