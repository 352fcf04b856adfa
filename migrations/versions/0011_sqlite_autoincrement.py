"""SQLite: every table with AUTOINCREMENT, so that a deleted row's id is never handed out again
(PostgreSQL's sequences never reuse one; nothing to do there)

Revision ID: 0011_sqlite_autoincrement
Revises: 0010_tenancy
Create Date: 2026-12-07 01:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_sqlite_autoincrement'
down_revision = '0010_tenancy'
branch_labels = None
depends_on = None


def _tables():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    names = sa.inspect(bind).get_table_names()
    return [name for name in names if name != "alembic_version"]


def upgrade():
    # migrations/env.py turns foreign keys off first: each table is copied, dropped, renamed.
    for name in _tables():
        with op.batch_alter_table(
            name, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass


def downgrade():
    for name in _tables():
        with op.batch_alter_table(name, recreate="always"):
            pass
