"""restic repositories and the index of their objects

Revision ID: 0019_restic_repositories
Revises: 0018_notification_targets
Create Date: 2026-12-07 12:00:00

"""
from alembic import op
import sqlalchemy as sa

from syncapp.timeutil import UtcDateTime


# revision identifiers, used by Alembic.
revision = '0019_restic_repositories'
down_revision = '0018_notification_targets'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'restic_repositories',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('path', sa.String(length=255), nullable=False),
        sa.Column('append_only', sa.Boolean(), nullable=False),
        sa.Column('quota_bytes', sa.BigInteger(), nullable=True),
        sa.Column('remote_id', sa.Integer(), nullable=True),
        sa.Column('token_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('last_snapshot_at', UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['remote_id'], ['remotes.id'], ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('owner_id', 'name', name='uq_restic_repositories_owner_name'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_restic_repositories_owner_id', 'restic_repositories', ['owner_id'], unique=False)
    op.create_table(
        'restic_objects',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('repository_id', sa.Integer(), nullable=False),
        sa.Column('type', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['repository_id'], ['restic_repositories.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('repository_id', 'type', 'name', name='uq_restic_objects_repo_type_name'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_restic_objects_repository_id', 'restic_objects', ['repository_id'], unique=False)


def downgrade():
    op.drop_table('restic_objects')
    op.drop_table('restic_repositories')
