"""backup verifications: the last /verify result per profile

Revision ID: ea431001bc8c
Revises: 27ecff7e69d9
Create Date: 2026-11-24 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import syncapp.timeutil


# revision identifiers, used by Alembic.
revision = 'ea431001bc8c'
down_revision = '27ecff7e69d9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('backup_verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile', sa.String(length=64), nullable=False),
    sa.Column('verified_at', syncapp.timeutil.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sync_status', sa.String(length=16), nullable=False),
    sa.Column('synced', sa.Integer(), nullable=False),
    sa.Column('missing', sa.Integer(), nullable=False),
    sa.Column('mismatched', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('backup_verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backup_verifications_profile'), ['profile'], unique=False)


def downgrade():
    with op.batch_alter_table('backup_verifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backup_verifications_profile'))

    op.drop_table('backup_verifications')
