"""Pipeline definitions: parsing and validation (pure), later the graph, expressions and scheduler."""
