"""Artifact stores (local directory, S3) and the locations handed to clients."""
