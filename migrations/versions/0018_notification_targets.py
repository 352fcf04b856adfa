"""notification targets (Apprise URLs and signed webhooks, secrets encrypted) and deliveries

Revision ID: 0018_notification_targets
Revises: 0016_scrub_progress
Create Date: 2026-12-07 12:00:00

"""
from alembic import op
import sqlalchemy as sa

from syncapp.timeutil import UtcDateTime


# revision identifiers, used by Alembic.
revision = '0018_notification_targets'
down_revision = '0016_scrub_progress'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'notification_targets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('url_masked', sa.String(length=2048), nullable=False),
        sa.Column('secrets_encrypted', sa.Text(), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('owner_id', 'name', name='uq_notification_targets_name'),
        sqlite_autoincrement=True,
    )
    op.create_index(
        'ix_notification_targets_owner_id', 'notification_targets', ['owner_id'], unique=False
    )
    op.create_table(
        'notification_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('transition_id', sa.Integer(), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('delivered_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['transition_id'], ['alert_transitions.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['target_id'], ['notification_targets.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint(
            'transition_id', 'target_id', name='uq_notification_deliveries_pair'
        ),
        sqlite_autoincrement=True,
    )
    for column in ('transition_id', 'target_id', 'owner_id', 'status', 'next_attempt_at'):
        op.create_index(
            f'ix_notification_deliveries_{column}',
            'notification_deliveries',
            [column],
            unique=False,
        )


def downgrade():
    op.drop_table('notification_deliveries')
    op.drop_table('notification_targets')
