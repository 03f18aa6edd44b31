"""Find a run's result for a target quickly (resume, diff), and keep which config a run belongs to indexed.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_results_run_target", "results", ["run_id", "target"], mysql_length={"target": 255})
    op.create_index("ix_runs_config", "runs", ["config"], mysql_length={"config": 255})


def downgrade() -> None:
    op.drop_index("ix_runs_config", "runs")
    op.drop_index("ix_results_run_target", "results")
