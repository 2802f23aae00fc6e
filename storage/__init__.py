"""Persistence of runs, boxes, tracklets and identities (PostgreSQL or SQLite)."""
