"""Run leases: ``run_leases``, one row per run being written (:mod:`storage.run_lease`); ``cameras.mot_file``, the
camera's MOT file as written (zlib), so ``--resume`` into another ``--out`` rewrites every output; and camera
passwords masked in what older versions stored.

A new table and a nullable column, so existing runs need nothing (their cameras have no stored MOT file; a resume
writes those from the stored boxes' tracklets as before: it writes none). The data step masks URL passwords (``rtsp://user:***@host``) in
every stored run config, camera source and camera error: versions before this one stored them verbatim. The
masking cannot be undone, so the downgrade drops only the table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 23:50:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from mtmct.core.secrets import has_secret, mask_secrets


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'run_leases',
        sa.Column('run_id', sa.String(length=200), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('run_id', name=op.f('pk_run_leases')),
    )
    op.add_column('cameras', sa.Column('mot_file', sa.LargeBinary(), nullable=True))
    conn = op.get_bind()
    for table, key, columns in (("runs", ("id",), ("config",)),
                                ("cameras", ("run_id", "camera_id"), ("source", "error"))):
        rows = conn.execute(sa.text(f"SELECT {', '.join(key + columns)} FROM {table}")).all()
        for row in rows:
            values = dict(zip(key + columns, row))
            masked = {c: mask_secrets(values[c]) for c in columns if values[c] and has_secret(values[c])}
            if masked:
                sets = ", ".join(f"{c} = :{c}" for c in masked)
                where = " AND ".join(f"{k} = :{k}" for k in key)
                conn.execute(sa.text(f"UPDATE {table} SET {sets} WHERE {where}"),
                             {**masked, **{k: values[k] for k in key}})


def downgrade() -> None:
    """Downgrade schema (the masked passwords stay masked: they are not stored anywhere to restore). A plain ALTER
    TABLE DROP COLUMN, not batch mode (copying ``cameras`` on SQLite would cascade-delete its children)."""
    op.execute('ALTER TABLE cameras DROP COLUMN mot_file')
    op.drop_table('run_leases')
