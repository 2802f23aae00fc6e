"""World points: ``world_points``, each global identity's fused ground position per frame (mtmct_world.txt's rows
with their times), so the dashboard's map draws the trajectories the run computed.

A new table, so existing runs need nothing: they have no rows in it and the map falls back to averaging their boxes'
ground positions (revision 0004) as before. Downgrading drops the table (the rows can be recomputed by a re-run).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 03:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'world_points',
        sa.Column('run_id', sa.String(length=200), nullable=False),
        sa.Column('global_id', sa.Integer(), nullable=False),
        sa.Column('frame', sa.Integer(), nullable=False),
        sa.Column('time', sa.Double(), nullable=False),
        sa.Column('x', sa.Double(), nullable=False),
        sa.Column('y', sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_world_points_runs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'global_id', 'frame', name=op.f('pk_world_points')),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('world_points')
