"""Event payload models, one module per domain; `schemas.catalog` collects them by type string."""
