"""Ingest: edge batches from the cloud broker into storage, health and tickets."""
