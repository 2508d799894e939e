"""Search engines (Meilisearch, embedded), listing documents, the outbox relay and matching."""
