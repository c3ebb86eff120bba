"""The hash-chained audit log: how links are computed, written and verified."""
