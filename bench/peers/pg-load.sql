-- bench/peers/pg-load.sql — tables, COPY and indexes for PostgreSQL.
-- Placeholders @NAME@ are substituted by bench/compare-peers (sed).
-- One transaction: with wal_level=minimal, COPY into a table created in the
-- same transaction skips the WAL.
BEGIN;
CREATE TABLE node_types (code smallint PRIMARY KEY, name text NOT NULL);
CREATE TABLE edge_types (code smallint PRIMARY KEY, name text NOT NULL, dependency text NOT NULL);
CREATE TABLE nodes (id integer NOT NULL, key text NOT NULL, type smallint NOT NULL);
CREATE TABLE edges (src integer NOT NULL, dst integer NOT NULL, type smallint NOT NULL);
CREATE TABLE costs (resource integer NOT NULL, day integer NOT NULL, currency text NOT NULL,
                    amount bigint NOT NULL);
CREATE TABLE sample (id integer PRIMARY KEY, key text NOT NULL);
\copy node_types FROM '@CSV@/node_types.csv' WITH (FORMAT csv)
\copy edge_types FROM '@CSV@/edge_types.csv' WITH (FORMAT csv)
\copy nodes FROM '@CSV@/nodes.csv' WITH (FORMAT csv)
\copy edges FROM '@CSV@/edges.csv' WITH (FORMAT csv)
\copy costs FROM '@CSV@/costs.csv' WITH (FORMAT csv)
\copy sample FROM '@CSV@/sample.csv' WITH (FORMAT csv)
ALTER TABLE nodes ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX nodes_key ON nodes (key);
CREATE UNIQUE INDEX edges_out ON edges (src, type, dst);
CREATE INDEX edges_in ON edges (dst, type, src);
COMMIT;
-- compare-peers then runs VACUUM ANALYZE in a new connection
