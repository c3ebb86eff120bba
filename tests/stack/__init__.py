"""The real-service test stack: Kafka, PostgreSQL and S3, as local processes or containers."""
