"""Initial schema: runs, cameras, boxes, tracklets, tracklet_crops, identities.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 03:41:10.015730

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('runs',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('config', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    op.create_table('cameras',
    sa.Column('run_id', sa.String(length=200), nullable=False),
    sa.Column('camera_id', sa.String(length=200), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('fps', sa.Double(), nullable=True),
    sa.Column('frames', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_cameras_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'camera_id', name=op.f('pk_cameras'))
    )
    op.create_table('identities',
    sa.Column('run_id', sa.String(length=200), nullable=False),
    sa.Column('global_id', sa.Integer(), nullable=False),
    sa.Column('n_cameras', sa.Integer(), nullable=False),
    sa.Column('n_tracklets', sa.Integer(), nullable=False),
    sa.Column('first_time', sa.Double(), nullable=True),
    sa.Column('last_time', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_identities_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'global_id', name=op.f('pk_identities'))
    )
    op.create_table('boxes',
    sa.Column('run_id', sa.String(length=200), nullable=False),
    sa.Column('camera_id', sa.String(length=200), nullable=False),
    sa.Column('frame', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('time', sa.Double(), nullable=False),
    sa.Column('x', sa.REAL(), nullable=False),
    sa.Column('y', sa.REAL(), nullable=False),
    sa.Column('w', sa.REAL(), nullable=False),
    sa.Column('h', sa.REAL(), nullable=False),
    sa.Column('score', sa.REAL(), nullable=False),
    sa.Column('cls', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['run_id', 'camera_id'], ['cameras.run_id', 'cameras.camera_id'], name=op.f('fk_boxes_cameras'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'camera_id', 'frame', 'track_id', name=op.f('pk_boxes'))
    )
    op.create_table('tracklets',
    sa.Column('run_id', sa.String(length=200), nullable=False),
    sa.Column('camera_id', sa.String(length=200), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('cls', sa.Integer(), nullable=False),
    sa.Column('start_frame', sa.Integer(), nullable=False),
    sa.Column('end_frame', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Double(), nullable=False),
    sa.Column('end_time', sa.Double(), nullable=False),
    sa.Column('n_frames', sa.Integer(), nullable=False),
    sa.Column('quality', sa.Double(), nullable=False),
    sa.Column('flags', sa.Text(), nullable=False),
    sa.Column('embedding', sa.LargeBinary(), nullable=True),
    sa.Column('dim', sa.Integer(), nullable=True),
    sa.Column('global_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id', 'camera_id'], ['cameras.run_id', 'cameras.camera_id'], name=op.f('fk_tracklets_cameras'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'camera_id', 'track_id', name=op.f('pk_tracklets'))
    )
    op.create_index('ix_tracklets_run_global', 'tracklets', ['run_id', 'global_id'], unique=False)
    op.create_table('tracklet_crops',
    sa.Column('run_id', sa.String(length=200), nullable=False),
    sa.Column('camera_id', sa.String(length=200), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('jpeg', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['run_id', 'camera_id', 'track_id'], ['tracklets.run_id', 'tracklets.camera_id', 'tracklets.track_id'], name=op.f('fk_tracklet_crops_tracklets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'camera_id', 'track_id', 'idx', name=op.f('pk_tracklet_crops'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('tracklet_crops')
    op.drop_index('ix_tracklets_run_global', table_name='tracklets')
    op.drop_table('tracklets')
    op.drop_table('boxes')
    op.drop_table('identities')
    op.drop_table('cameras')
    op.drop_table('runs')
