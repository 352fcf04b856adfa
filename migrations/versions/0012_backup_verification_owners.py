"""backup verifications per owner: an owner_id column instead of keys naming the owner

Revision ID: 0012_backup_verification_owners
Revises: 0011_sqlite_autoincrement
Create Date: 2026-12-07 02:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_backup_verification_owners'
down_revision = '0011_sqlite_autoincrement'
branch_labels = None
depends_on = None


def upgrade():
    # The rows are the dashboard's "last /verify" per profile, not backups: those made before
    # owners (or keyed "<owner>:<profile>" in between) are dropped rather than guessed; the
    # next /verify of each client records it again.
    op.execute("DELETE FROM backup_verifications")
    # table_kwargs: the re-created table keeps AUTOINCREMENT (0011) on SQLite
    with op.batch_alter_table(
        'backup_verifications', schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=False))
        batch_op.create_index(batch_op.f('ix_backup_verifications_owner_id'), ['owner_id'], unique=False)
        batch_op.create_foreign_key('fk_backup_verifications_owner_id_users', 'users', ['owner_id'], ['id'], ondelete='CASCADE')


def downgrade():
    op.execute("DELETE FROM backup_verifications")
    with op.batch_alter_table(
        'backup_verifications', schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_constraint('fk_backup_verifications_owner_id_users', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_backup_verifications_owner_id'))
        batch_op.drop_column('owner_id')
