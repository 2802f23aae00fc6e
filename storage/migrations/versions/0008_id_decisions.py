"""Id decisions: ``id_decisions``, the history of a live run's global ids (each tracklet's first id, merges and
splits, as :mod:`fusion.online_fusion` decides them), so a reader can tell when and why an id changed and replay
the history to the current ids.

A new table, so existing runs need nothing: offline runs have no rows in it. Downgrading drops the table (and with
it the history of live runs; their current ids stay in ``tracklets`` and ``identities``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 18:50:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'id_decisions',
        sa.Column('run_id', sa.String(length=200), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('time', sa.Double(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('old_id', sa.Integer(), nullable=True),
        sa.Column('new_id', sa.Integer(), nullable=False),
        sa.Column('camera_id', sa.String(length=200), nullable=True),
        sa.Column('track_id', sa.Integer(), nullable=True),
        sa.Column('delay', sa.Double(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_id_decisions_runs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'seq', name=op.f('pk_id_decisions')),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('id_decisions')
