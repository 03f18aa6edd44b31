"""Keeping runs and results in a SQL database through SQLAlchemy."""
