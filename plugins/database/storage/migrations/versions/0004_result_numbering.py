"""Record on each run how its results are numbered, so that a resume never skips the wrong targets.

Before this revision ``results.seq`` counted results in the order they were written; from
now on it is the target's position in the run's sources, and new runs say so with
``runs.numbering = 'source'``. Runs stored earlier keep ``NULL`` there: their numbers
cannot be matched to source positions, so ``--resume`` refuses them (one line says why).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("numbering", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:  # SQLite cannot drop a column in place before 3.35
        batch.drop_column("numbering")
