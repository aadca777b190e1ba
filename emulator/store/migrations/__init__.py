"""Alembic migration scripts for the store (see `emulator.store.db.upgrade`)."""
