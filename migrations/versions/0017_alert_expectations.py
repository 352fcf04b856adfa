"""alert expectations: per-subject overrides of the alerts' default rhythms and limits

Revision ID: 0017_alert_expectations
Revises: 0018_notification_targets (re-chained after main's 0018 landed; the integrator orders them)
Create Date: 2026-12-07 11:45:00

"""
from alembic import op
import sqlalchemy as sa

from syncapp.timeutil import UtcDateTime


# revision identifiers, used by Alembic.
revision = '0017_alert_expectations'
down_revision = '0018_notification_targets'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'alert_expectations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('watch', sa.Boolean(), nullable=False),
        sa.Column('any_every', sa.Float(), nullable=True),
        sa.Column('full_every', sa.Float(), nullable=True),
        sa.Column('max_silence', sa.Float(), nullable=True),
        sa.Column('max_failed_runs', sa.Integer(), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('owner_id', 'kind', 'subject', name='uq_alert_expectations_subject'),
        sqlite_autoincrement=True,
    )
    op.create_index(
        'ix_alert_expectations_owner_id', 'alert_expectations', ['owner_id'], unique=False
    )


def downgrade():
    op.drop_index('ix_alert_expectations_owner_id', table_name='alert_expectations')
    op.drop_table('alert_expectations')
