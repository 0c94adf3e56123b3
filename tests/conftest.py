"""Test setup: four forced CPU devices, so sharding over the seed axis is exercised everywhere.
The flag must be set before JAX initialises its backend. The command line's persistent
compilation cache is off (tests write nothing under the user's home; its own tests turn it on
in a temporary folder)."""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("EMERGENCE_JAX_COMPILATION_CACHE", "off")
