"""backup archives: names unique per owner, type and profile; a gzip integrity state

Revision ID: 0013_backup_profiles_integrity
Revises: 0012_backup_verification_owners
Create Date: 2026-12-07 05:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_backup_profiles_integrity'
down_revision = '0012_backup_verification_owners'
branch_labels = None
depends_on = None


def upgrade():
    # Archives stored before the gzip check start 'unverified': /verify (or `flask backups
    # check`) checks each once.
    with op.batch_alter_table(
        'backup_archives', schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(
            sa.Column('integrity', sa.String(length=16), nullable=False, server_default='unverified')
        )
        batch_op.drop_constraint('uq_backup_archives_owner_type_name', type_='unique')
        batch_op.create_unique_constraint(
            'uq_backup_archives_owner_type_profile_name', ['owner_id', 'type', 'profile', 'name']
        )


def downgrade():
    # Two profiles' archives of one name cannot both survive the older constraint: the later
    # upload's index row goes (its files stay, and `backups reindex` lists what is on disk).
    op.execute(
        "DELETE FROM backup_archives WHERE id NOT IN (SELECT MIN(id) FROM backup_archives "
        "GROUP BY owner_id, type, name)"
    )
    with op.batch_alter_table(
        'backup_archives', schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_constraint('uq_backup_archives_owner_type_profile_name', type_='unique')
        batch_op.create_unique_constraint(
            'uq_backup_archives_owner_type_name', ['owner_id', 'type', 'name']
        )
        batch_op.drop_column('integrity')
