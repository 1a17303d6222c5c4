-- Run once by the PostgreSQL image when it creates the database (compose.yaml mounts it
-- into /docker-entrypoint-initdb.d), as the superuser: pgvector is there before any
-- smalltown process starts, even when the app's own user may not create extensions.
CREATE EXTENSION IF NOT EXISTS vector;
