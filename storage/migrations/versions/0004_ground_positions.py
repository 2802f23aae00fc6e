"""Ground positions: ``boxes.gx``, ``boxes.gy``, each box's foot point on the ground plane in metres.

Nullable (NULL for cameras without calibration and for runs stored before this revision), so existing rows need
no backfill and adding the columns is an in-place ALTER on both engines, instant on a large database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 00:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('boxes', sa.Column('gx', sa.REAL(), nullable=True))
    op.add_column('boxes', sa.Column('gy', sa.REAL(), nullable=True))


def downgrade() -> None:
    """Downgrade schema: plain ALTER TABLE DROP COLUMN (not batch mode: a table copy on SQLite would cascade)."""
    op.execute('ALTER TABLE boxes DROP COLUMN gy')
    op.execute('ALTER TABLE boxes DROP COLUMN gx')
