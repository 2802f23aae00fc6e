"""ReID models: ``reid_models``, the ReID models ``mtmct reid adapt`` fine-tuned on a run's own tracklets, each a
.tar.gz of the model folder with its sha256 and what the adaptation measured, numbered 1, 2, ... per run. The run's
stored embeddings come from its latest one, so the query embeds photos with it.

A new table, so existing runs need nothing: they have no rows in it and are searched with their config's model as
before. Downgrading drops the table, and with it the adapted models: a run adapted before the downgrade keeps the
adapted embeddings, which its config's model no longer matches (re-run or re-adapt it).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 06:20:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'reid_models',
        sa.Column('run_id', sa.String(length=200), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('archive', sa.LargeBinary(), nullable=False),
        sa.Column('report', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_reid_models_runs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'version', name=op.f('pk_reid_models')),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('reid_models')
