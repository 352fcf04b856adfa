"""cordiax: one snapshot per (owner, device, content), enforced by the database; refusals table

Revision ID: 0014_cordiax_content_refusals
Revises: 0013_backup_profiles_integrity
Create Date: 2026-12-07 05:10:00

"""
from alembic import op
import sqlalchemy as sa

from syncapp.timeutil import UtcDateTime


# revision identifiers, used by Alembic.
revision = '0014_cordiax_content_refusals'
down_revision = '0013_backup_profiles_integrity'
branch_labels = None
depends_on = None


def upgrade():
    # Earlier versions kept A -> B -> A as two rows of the same content. The newest row of each
    # content stays (it is the one "latest" may name); the older row goes from the index. Its
    # files are byte-identical to the kept one's and stay on disk with their sidecar.
    op.execute(
        """
        DELETE FROM cordiax_snapshots WHERE EXISTS (
            SELECT 1 FROM cordiax_snapshots AS newer
            WHERE newer.user_id = cordiax_snapshots.user_id
              AND newer.device = cordiax_snapshots.device
              AND newer.sha256 = cordiax_snapshots.sha256
              AND (newer.received_at > cordiax_snapshots.received_at
                   OR (newer.received_at = cordiax_snapshots.received_at
                       AND newer.id > cordiax_snapshots.id))
        )
        """
    )
    with op.batch_alter_table(
        'cordiax_snapshots', schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.create_unique_constraint(
            'uq_cordiax_snapshot_content', ['user_id', 'device', 'sha256']
        )
    op.create_table(
        'cordiax_refusals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('device', sa.String(length=64), nullable=False),
        sa.Column('reason', sa.String(length=64), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('first_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('last_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('address', 'device', 'reason', name='uq_cordiax_refusal_key'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_cordiax_refusals_last_at', 'cordiax_refusals', ['last_at'], unique=False)


def downgrade():
    op.drop_index('ix_cordiax_refusals_last_at', table_name='cordiax_refusals')
    op.drop_table('cordiax_refusals')
    with op.batch_alter_table(
        'cordiax_snapshots', schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_constraint('uq_cordiax_snapshot_content', type_='unique')
