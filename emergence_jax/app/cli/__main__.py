"""``python -m emergence_jax.app.cli`` is the ``emergence-jax`` command."""

import sys

from emergence_jax.app.cli import main

sys.exit(main())
