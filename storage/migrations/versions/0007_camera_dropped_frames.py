"""Dropped frames: ``cameras.dropped``, the source frames a camera skipped to keep up with real time
(``mtmct run --realtime``; :mod:`cameras.realtime_frames`), so a run says how much footage it did not look at.

Nullable (NULL for runs stored before this revision, and 0 for cameras that dropped nothing), so existing rows need
no backfill and adding the column is an in-place ALTER on both engines.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 18:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('cameras', sa.Column('dropped', sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade schema: plain ALTER TABLE DROP COLUMN (not batch mode: a table copy on SQLite would cascade)."""
    op.execute('ALTER TABLE cameras DROP COLUMN dropped')
