-- bench/peers/sqlite-needs.sql — the derived "needs" relation (SQLite); see
-- pg-needs.sql.
.output /dev/null
PRAGMA journal_mode = OFF;
.output stdout
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1048576;
PRAGMA temp_store = MEMORY;
BEGIN;
CREATE TABLE needs (needer INTEGER NOT NULL, needed INTEGER NOT NULL);
INSERT INTO needs
	SELECT src, dst FROM edges WHERE type IN (@FWD@)
	UNION ALL
	SELECT dst, src FROM edges WHERE type IN (@REV@);
CREATE INDEX needs_needed ON needs (needed, needer);
COMMIT;
ANALYZE needs;
