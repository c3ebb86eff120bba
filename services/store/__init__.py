"""PostgreSQL: the embedded server, connection pools, numbered migrations and queries."""
