"""Keeping runs and results in a SQL database through SQLAlchemy."""

DEFAULT_DB = "sqlite:///healthcrawl.db"
"""The ``sqlalchemy`` sink's default ``url``, and the database of the history commands when neither ``--db``
nor ``--config`` is given."""
