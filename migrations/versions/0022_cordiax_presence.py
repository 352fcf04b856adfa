"""cordiax presence: whether a device is connected now, and when it was last heard from

Revision ID: 0022_cordiax_presence
Revises: 0021_nas_settings
Create Date: 2026-12-07 12:30:00

"""
from alembic import op
import sqlalchemy as sa

from syncapp.timeutil import UtcDateTime


# revision identifiers, used by Alembic.
revision = '0022_cordiax_presence'
down_revision = '0021_nas_settings'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'cordiax_presence',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('device', sa.String(length=64), nullable=False),
        sa.Column('connections', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.Column('connected_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('last_seen_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'device', name='uq_cordiax_presence_device'),
    )
    with op.batch_alter_table('cordiax_presence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cordiax_presence_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('cordiax_presence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cordiax_presence_user_id'))
    op.drop_table('cordiax_presence')
