"""scrub results (per stored object: integrity, last verified) and alerts with their history

Revision ID: 0015_scrub_results_and_alerts
Revises: 0014_cordiax_content_refusals
Create Date: 2026-12-07 11:40:00

"""
from alembic import op
import sqlalchemy as sa

from syncapp.timeutil import UtcDateTime


# revision identifiers, used by Alembic.
revision = '0015_scrub_results_and_alerts'
down_revision = '0014_cordiax_content_refusals'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'scrub_results',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('integrity', sa.String(length=16), nullable=False),
        sa.Column('last_verified_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'object_id', name='uq_scrub_results_object'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_scrub_results_owner_id', 'scrub_results', ['owner_id'], unique=False)
    op.create_index('ix_scrub_results_integrity', 'scrub_results', ['integrity'], unique=False)
    op.create_table(
        'alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('title', sa.String(length=255), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('link', sa.String(length=512), nullable=False),
        sa.Column('first_seen_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('changed_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('resolved_at', UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_alerts_kind', 'alerts', ['kind'], unique=False)
    op.create_index('ix_alerts_owner_id', 'alerts', ['owner_id'], unique=False)
    op.create_index('ix_alerts_state', 'alerts', ['state'], unique=False)
    op.create_table(
        'alert_transitions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('title', sa.String(length=255), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('link', sa.String(length=512), nullable=False),
        sa.Column('at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_alert_transitions_alert_id', 'alert_transitions', ['alert_id'], unique=False)
    op.create_index('ix_alert_transitions_owner_id', 'alert_transitions', ['owner_id'], unique=False)
    op.create_index('ix_alert_transitions_at', 'alert_transitions', ['at'], unique=False)


def downgrade():
    op.drop_table('alert_transitions')
    op.drop_table('alerts')
    op.drop_table('scrub_results')
