"""SQL views for BI tools and the read-only roles that query them.

The views themselves are a migration (``services/store/migrations/readmodel/0008_bi_v1.sql``):
schema ``bi_v1``, described by its own comments. Here: reading that description back
(``catalogue``), keeping the views on the live tables across a replay swap (``rebind``),
provisioning reader roles (``roles``), letting them sign in with a password on the embedded
PostgreSQL (``hba``), and a loopback TCP entrance for tools that cannot use a Unix socket
(``listener``).
"""

BI_SCHEMA = "bi_v1"
"""The newest version of the views."""

BI_SCHEMA_PATTERN = r"^bi_v[0-9]+$"
"""Every version of the views (bi_v1, bi_v2, ...), as a PostgreSQL regular expression."""

READER_GROUP = "ledgerflow_bi"
"""Marks the roles ``ledgerflow bi grant`` manages; holds no privileges itself."""
