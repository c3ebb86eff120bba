-- Event text out of line but not compressed: the audit log's and the embedded log's.
-- A metrics event is ~45 KB of JSON numbers for 1,000 points. Compressing it with pglz cost
-- PostgreSQL 1.4-1.8 CPU-s per million random-valued points, three to four times all its other
-- work for them, to save ~29 bytes a point (the audit text of a million points: 16 MB with
-- pglz, 45 MB without; docs/benchmarks/profile-notes.md). Rows stored before keep their
-- compression. An operator who would rather spend the CPU than the disk can undo this with
-- ALTER TABLE ledgerflow.audit_log ALTER COLUMN event SET STORAGE EXTENDED (likewise for
-- event_log.value); migrations never touch it again.
ALTER TABLE audit_log ALTER COLUMN event SET STORAGE EXTERNAL;
ALTER TABLE event_log ALTER COLUMN value SET STORAGE EXTERNAL;
