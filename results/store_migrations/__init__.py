"""Alembic revisions of the store's tables; applied by ``results.store_schema`` (never by hand)."""
