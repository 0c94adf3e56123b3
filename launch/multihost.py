"""Entry point for multi-process runs (TPU pod slices, multi-node GPU, several processes on one
machine).

Every process runs ``python launch/multihost.py sweep EXPERIMENT.py --out gs://bucket/run ...``.
``emergence_jax.core.distributed.initialize()`` joins the job: on Cloud TPU and under SLURM JAX finds
the other processes itself; elsewhere set JAX_COORDINATOR_ADDRESS (process 0's host:port),
JAX_NUM_PROCESSES and JAX_PROCESS_ID in every process. The population's ``seed`` mesh then spans
every device of every process and the CLI runs unchanged (exit status 75: preempted, rerun).
"""

import sys

if __name__ == "__main__":
    from emergence_jax.app.cli import main
    from emergence_jax.core import distributed
    from emergence_jax.core.errors import ConfigError

    try:
        distributed.initialize()
    except ConfigError as e:
        print(f"multihost: error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
