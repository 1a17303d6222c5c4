-- Run once by the PostgreSQL image when it creates the database (compose.yaml mounts it
-- into /docker-entrypoint-initdb.d): pgvector is ready before any smalltown process
-- starts, so processes starting together on the new database do not each try to create
-- it at the same moment.
CREATE EXTENSION IF NOT EXISTS vector;
