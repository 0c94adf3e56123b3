"""Subcommands of the ``emergence-jax`` CLI (see ``emergence_jax.app.cli``)."""
