"""PostgreSQL (with pgvector) as a storage backend: the connection pool and the versioned schema. What is stored
where is the index's and the feedback store's business (`kbsuggest.index.postgres`, `kbsuggest.feedback.postgres`)."""

from kbsuggest.database.schema import CHANNEL, MIGRATIONS, Database

__all__ = ["CHANNEL", "MIGRATIONS", "Database"]
