"""Alembic migrations of the storage schema (env.py + versions/), run through :mod:`storage.migrate`."""
