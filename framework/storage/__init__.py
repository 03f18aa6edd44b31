"""Keeping runs and results in a SQL database through SQLAlchemy."""

DEFAULT_DB = "sqlite:///healthcrawl.db"
"""The database of the history commands when neither ``--db`` nor ``--config`` is given."""
