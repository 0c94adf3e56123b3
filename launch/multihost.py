"""Entry point for multi-controller runs (TPU pod slices, multi-node GPU).

Every host runs ``python launch/multihost.py sweep EXPERIMENT.py --out gs://bucket/run ...``.
``jax.distributed.initialize()`` discovers the other hosts (on Cloud TPU with no arguments; on GPU
clusters set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID), after which the
population's ``seed`` mesh spans every device of every host and the CLI runs unchanged.
"""

import sys

import jax

if __name__ == "__main__":
    jax.distributed.initialize()
    from emergence_jax.app.cli import main

    sys.exit(main(sys.argv[1:]))
