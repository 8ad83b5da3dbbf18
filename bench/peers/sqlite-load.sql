-- bench/peers/sqlite-load.sql — tables, import and indexes for SQLite
-- (the sqlite3 shell).  Placeholders @NAME@ are substituted by
-- bench/compare-peers (sed).
.output /dev/null
PRAGMA journal_mode = OFF;
.output stdout
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1048576;
PRAGMA temp_store = MEMORY;
BEGIN;
CREATE TABLE node_types (code INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE edge_types (code INTEGER PRIMARY KEY, name TEXT NOT NULL, dependency TEXT NOT NULL);
CREATE TABLE nodes (id INTEGER PRIMARY KEY, key TEXT NOT NULL, type INTEGER NOT NULL);
CREATE TABLE edges (src INTEGER NOT NULL, dst INTEGER NOT NULL, type INTEGER NOT NULL);
CREATE TABLE costs (resource INTEGER NOT NULL, day INTEGER NOT NULL, currency TEXT NOT NULL,
                    amount INTEGER NOT NULL);
CREATE TABLE sample (id INTEGER PRIMARY KEY, key TEXT NOT NULL);
COMMIT;
.import --csv @CSV@/node_types.csv node_types
.import --csv @CSV@/edge_types.csv edge_types
.import --csv @CSV@/nodes.csv nodes
.import --csv @CSV@/edges.csv edges
.import --csv @CSV@/costs.csv costs
.import --csv @CSV@/sample.csv sample
BEGIN;
CREATE UNIQUE INDEX nodes_key ON nodes (key);
CREATE UNIQUE INDEX edges_out ON edges (src, type, dst);
CREATE INDEX edges_in ON edges (dst, type, src);
COMMIT;
ANALYZE;
