"""The event log: one small interface, a Kafka implementation and an embedded PostgreSQL one."""
