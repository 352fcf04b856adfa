"""backup archives: an index in the order /list and /verify read an owner's archives

Revision ID: 0023_backup_listing_order
Revises: 0022_cordiax_presence
Create Date: 2026-12-07 15:45:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0023_backup_listing_order'
down_revision = '0022_cordiax_presence'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('backup_archives', schema=None) as batch_op:
        batch_op.create_index(
            'ix_backup_archives_owner_listing', ['owner_id', 'uploaded_at', 'id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('backup_archives', schema=None) as batch_op:
        batch_op.drop_index('ix_backup_archives_owner_listing')
