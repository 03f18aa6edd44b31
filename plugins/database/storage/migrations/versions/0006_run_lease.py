"""Give each run an owner: the process crawling it holds a lease it renews, so two never crawl one run.

``runs.owner`` is ``HOST:PID`` of the process that holds the run, ``runs.lease_expires_at``
when its lease ends unless renewed. A ``running`` run whose lease ended (or that has none,
like every run stored before this revision) is stale: its process is gone.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    timestamp = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    op.add_column("runs", sa.Column("owner", sa.String(255), nullable=True))
    op.add_column("runs", sa.Column("lease_expires_at", timestamp, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:  # SQLite cannot drop a column in place before 3.35
        batch.drop_column("lease_expires_at")
        batch.drop_column("owner")
