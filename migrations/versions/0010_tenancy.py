"""tenancy: session generations, token scopes, granted sync folders and quotas per user, remote
grants, and backup archives owned by a user (unique per owner, with their storage path)

Revision ID: 0010_tenancy
Revises: f95a3ee404d5
Create Date: 2026-12-07 01:30:00

"""
from alembic import op
import sqlalchemy as sa

import syncapp.timeutil


# revision identifiers, used by Alembic.
revision = '0010_tenancy'
down_revision = 'f95a3ee404d5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('sync_roots', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('quota_bytes', sa.BigInteger(), nullable=True))
    op.execute("UPDATE users SET sync_roots = '[]'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('sync_roots', existing_type=sa.JSON(), nullable=False)

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.JSON(), nullable=True))

    op.create_table('remote_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remote_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('feature', sa.String(length=16), nullable=False),
    sa.Column('created_at', syncapp.timeutil.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['remote_id'], ['remotes.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('remote_id', 'user_id', 'feature', name='uq_remote_grants')
    )
    with op.batch_alter_table('remote_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remote_grants_remote_id'), ['remote_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_remote_grants_user_id'), ['user_id'], unique=False)

    # Every archive gets an owner: its uploader, else (anonymous LAN uploads) the first
    # administrator. Index rows left without one (no user exists) are dropped: the sidecars are
    # the truth and `flask backups reindex` rebuilds them.
    with op.batch_alter_table('backup_archives', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('path', sa.String(length=512), nullable=True))
    op.execute(
        "UPDATE backup_archives SET owner_id = COALESCE(uploader_id, "
        "(SELECT MIN(id) FROM users WHERE role = 'admin'), (SELECT MIN(id) FROM users))"
    )
    op.execute("DELETE FROM backup_archives WHERE owner_id IS NULL")
    op.execute("UPDATE backup_archives SET path = type || '/' || name")
    with op.batch_alter_table('backup_archives', schema=None) as batch_op:
        batch_op.alter_column('owner_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('path', existing_type=sa.String(length=512), nullable=False)
        batch_op.drop_constraint('uq_backup_archives_type_name', type_='unique')
        batch_op.create_unique_constraint('uq_backup_archives_owner_type_name', ['owner_id', 'type', 'name'])
        batch_op.create_index(batch_op.f('ix_backup_archives_owner_id'), ['owner_id'], unique=False)
        batch_op.create_foreign_key('fk_backup_archives_owner_id_users', 'users', ['owner_id'], ['id'], ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('backup_archives', schema=None) as batch_op:
        batch_op.drop_constraint('fk_backup_archives_owner_id_users', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_backup_archives_owner_id'))
        batch_op.drop_constraint('uq_backup_archives_owner_type_name', type_='unique')
        batch_op.create_unique_constraint('uq_backup_archives_type_name', ['type', 'name'])
        batch_op.drop_column('path')
        batch_op.drop_column('owner_id')

    with op.batch_alter_table('remote_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remote_grants_user_id'))
        batch_op.drop_index(batch_op.f('ix_remote_grants_remote_id'))
    op.drop_table('remote_grants')

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('scopes')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('quota_bytes')
        batch_op.drop_column('sync_roots')
        batch_op.drop_column('session_generation')
