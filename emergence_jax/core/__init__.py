"""Layer 1 of 4 — the pure core: configs, the transformer, population training, tasks, probes and
device meshes. Knows nothing about storage, statistics or the command line."""
