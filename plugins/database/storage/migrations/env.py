"""Alembic environment for healthcrawl's schema: always run from code, on the connection it is given."""

from alembic import context

from healthcrawl.plugins.database.storage.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
