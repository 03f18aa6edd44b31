"""The first schema: runs, results and check outcomes.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("config", sa.String(1024), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("targets", sa.Integer, nullable=False),
        sa.Column("ok", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("settings", sa.JSON, nullable=True),
    )
    op.create_index("ix_runs_state", "runs", ["state"])
    op.create_table(
        "results",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error_kind", sa.String(32), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("final_url", sa.Text, nullable=True),
        sa.Column("redirects", sa.Integer, nullable=False),
        sa.Column("body_bytes", sa.Integer, nullable=False),
        sa.Column("body_truncated", sa.Boolean, nullable=False),
        *(sa.Column(name, sa.Float, nullable=True) for name in ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms")),
        sa.Column("tls_verified", sa.Boolean, nullable=True),
        sa.Column("tls_days_left", sa.Integer, nullable=True),
        sa.Column("tls_not_after", sa.String(40), nullable=True),
        sa.Column("tls_subject", sa.Text, nullable=True),
        sa.Column("tls_issuer", sa.Text, nullable=True),
        sa.Column("tls_sans", sa.JSON, nullable=True),
        sa.Column("tls_version", sa.String(16), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_results_ok", "results", ["ok"])
    op.create_index("ix_results_error_kind", "results", ["error_kind"])
    op.create_table(
        "check_outcomes",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(["run_id", "seq"], ["results.run_id", "results.seq"], ondelete="CASCADE"),
    )
    op.create_index("ix_check_outcomes_name", "check_outcomes", ["name"])


def downgrade() -> None:
    op.drop_table("check_outcomes")
    op.drop_table("results")
    op.drop_table("runs")
