"""Layer 4 of 4 — applications: sweeps, the sweep → fit → report study, reports and the command
line. May use every layer below."""
