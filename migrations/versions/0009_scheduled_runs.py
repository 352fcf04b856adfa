"""scheduled runs: each run of a scheduled job, by which process (host, pid), and its outcome

Revision ID: f95a3ee404d5
Revises: ea431001bc8c
Create Date: 2026-11-23 15:51:31.561853

"""
from alembic import op
import sqlalchemy as sa

import syncapp.timeutil


# revision identifiers, used by Alembic.
revision = 'f95a3ee404d5'
down_revision = 'ea431001bc8c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scheduled_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', syncapp.timeutil.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', syncapp.timeutil.UtcDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('scheduled_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduled_runs_job_id'), ['job_id'], unique=False)



def downgrade():
    with op.batch_alter_table('scheduled_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduled_runs_job_id'))

    op.drop_table('scheduled_runs')
