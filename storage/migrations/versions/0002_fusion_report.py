"""Fusion report with the run: ``runs.fusion_report``, the thresholds and transit windows fusion applied (JSON).

Nullable, so existing runs need no backfill: a run fused before this revision simply has no report, and the
dashboard shows its graph without one. Adding a nullable column is an in-place ALTER on both engines (no table
copy on SQLite, no rewrite on PostgreSQL), so upgrading a large database is instant.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('runs', sa.Column('fusion_report', sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema: a plain ALTER TABLE DROP COLUMN (SQLite >= 3.35). Not batch mode: copying ``runs`` on
    SQLite would drop the original table, and its ON DELETE CASCADE would empty every child table."""
    op.execute('ALTER TABLE runs DROP COLUMN fusion_report')
