"""Durable control-plane state: the database engine, tables, migrations and the typed repository.

Every resource is one row of `resources` holding its Describe document as JSON plus the few indexed
columns List operations filter and sort on; tags live in `tags`, keyed by ARN. Schema changes are Alembic
migrations under `migrations/versions/`, applied on start, so a data dir made by an older version opens.
"""
