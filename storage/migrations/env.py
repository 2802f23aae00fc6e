"""Alembic environment: runs on the connection :mod:`storage.migrate` hands over (no alembic.ini needed).

To add a revision after changing storage/schema.py:
    .venv/bin/python -c "from storage.migrate import revision; revision('sqlite:///tmp/rev.db', 'what changed')"
"""

from alembic import context

from storage.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
