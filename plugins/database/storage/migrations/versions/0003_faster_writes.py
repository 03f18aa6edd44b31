"""Faster writes: no foreign key from check outcomes to results, no indexes that per-run queries do not use.

The foreign key made PostgreSQL check every outcome row against ``results`` with a plan
cached while the table was empty (a sequential scan), so batches got slower as a run grew.
Outcomes are only ever written together with their result, in one transaction, by one writer.
Every query reads one run at a time, through the primary keys (``run_id`` first) or
``ix_results_run_target``; indexes on ``ok``, ``error_kind`` and ``check_outcomes.name``
across all runs only slowed every insert down.

Also: MySQL/MariaDB timestamps keep microseconds (``DATETIME(6)``; plain DATETIME drops them).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

TIMESTAMPS = (("runs", "started_at", False), ("runs", "finished_at", True),
              ("results", "started_at", False), ("results", "finished_at", False))

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":  # SQLite leaves foreign keys unenforced unless asked: nothing to gain
        for foreign_key in sa.inspect(bind).get_foreign_keys("check_outcomes"):
            op.drop_constraint(foreign_key["name"], "check_outcomes", type_="foreignkey")
    op.drop_index("ix_results_ok", "results")
    op.drop_index("ix_results_error_kind", "results")
    op.drop_index("ix_check_outcomes_name", "check_outcomes")
    if bind.dialect.name in ("mysql", "mariadb"):
        for table, column, nullable in TIMESTAMPS:
            op.alter_column(table, column, type_=mysql.DATETIME(fsp=6), existing_nullable=nullable)


def downgrade() -> None:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        for table, column, nullable in TIMESTAMPS:
            op.alter_column(table, column, type_=mysql.DATETIME(), existing_nullable=nullable)
    op.create_index("ix_check_outcomes_name", "check_outcomes", ["name"])
    op.create_index("ix_results_error_kind", "results", ["error_kind"])
    op.create_index("ix_results_ok", "results", ["ok"])
    if op.get_bind().dialect.name != "sqlite":
        op.create_foreign_key("check_outcomes_run_id_seq_fkey", "check_outcomes", "results",
                              ["run_id", "seq"], ["run_id", "seq"], ondelete="CASCADE")
