"""Alembic's environment: runs the revisions on the connection ``results.store_schema`` hands over.

The caller holds the lock (PostgreSQL advisory lock, SQLite file lock) and owns the transaction, so this
file only binds Alembic to that connection.
"""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
