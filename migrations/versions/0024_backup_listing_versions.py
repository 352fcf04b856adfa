"""backup archives: a version per owner, bumped by triggers, keying the cached /list and /verify

Revision ID: 0024_backup_listing_versions
Revises: 0023_backup_listing_order
Create Date: 2026-12-07 19:00:00

"""
import sqlalchemy as sa
from alembic import op

from syncapp.backups.models import listing_trigger_drops, listing_trigger_statements

# revision identifiers, used by Alembic.
revision = '0024_backup_listing_versions'
down_revision = '0023_backup_listing_order'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'backup_listing_versions',
        sa.Column('owner_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('owner_id'),
    )
    for statement in listing_trigger_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    for statement in listing_trigger_drops(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table('backup_listing_versions')
