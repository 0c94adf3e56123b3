"""Test setup: four forced CPU devices, so sharding over the seed axis is exercised everywhere.
The flag must be set before JAX initialises its backend."""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
