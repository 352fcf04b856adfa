"""scrub: the progress of each pass over the stored objects (cursor, counts, lease)

Revision ID: 0016_scrub_progress
Revises: 0015_scrub_results_and_alerts
Create Date: 2026-12-07 12:00:00

"""
from alembic import op
import sqlalchemy as sa

from syncapp.timeutil import UtcDateTime


# revision identifiers, used by Alembic.
revision = '0016_scrub_progress'
down_revision = '0015_scrub_results_and_alerts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'scrub_passes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.Column('requested_by', sa.Integer(), nullable=True),
        sa.Column('requested_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('started_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('kind', sa.String(length=32), nullable=True),
        sa.Column('last_object_id', sa.Integer(), nullable=False),
        sa.Column('objects_planned', sa.Integer(), nullable=False),
        sa.Column('bytes_planned', sa.BigInteger(), nullable=False),
        sa.Column('objects_verified', sa.Integer(), nullable=False),
        sa.Column('bytes_verified', sa.BigInteger(), nullable=False),
        sa.Column('ok', sa.Integer(), nullable=False),
        sa.Column('corrupt', sa.Integer(), nullable=False),
        sa.Column('missing', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('lease_owner', sa.String(length=255), nullable=True),
        sa.Column('lease_until', UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['requested_by'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_scrub_passes_finished_at', 'scrub_passes', ['finished_at'], unique=False)


def downgrade():
    op.drop_table('scrub_passes')
