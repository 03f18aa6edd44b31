"""Store how many fetches each result took (the record's ``attempts`` key, from ``crawl.retries``).

Results stored earlier were fetched once: the column defaults to 1.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("results", sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:  # SQLite cannot drop a column in place before 3.35
        batch.drop_column("attempts")
