"""the NAS target set on /settings/nas (issue 22), read in preference to config.yaml

Revision ID: 0021_nas_settings
Revises: 0019_restic_repositories
Create Date: 2026-12-07 12:30:00

"""
from alembic import op
import sqlalchemy as sa

from syncapp.timeutil import UtcDateTime


# revision identifiers, used by Alembic.
revision = '0021_nas_settings'
down_revision = '0019_restic_repositories'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'nas_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('mount_path', sa.String(length=1024), nullable=True),
        sa.Column('remote_name', sa.String(length=100), nullable=True),
        sa.Column('folder_names', sa.String(length=8), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['updated_by'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade():
    op.drop_table('nas_settings')
