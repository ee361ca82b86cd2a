"""Linli cloud: ingest, facility health, tickets, REST API and web UI."""
