-- bench/peers/pg-needs.sql — the derived "needs" relation (PostgreSQL), the
-- SQL counterpart of stacktwin's in-memory dependency graph (st_depgraph):
-- (needer, needed) = (src, dst) for forward dependency edge types and
-- (dst, src) for reverse ones, as schema/stacktwin.yaml declares them.
BEGIN;
CREATE TABLE needs AS
	SELECT src AS needer, dst AS needed FROM edges WHERE type IN (@FWD@)
	UNION ALL
	SELECT dst, src FROM edges WHERE type IN (@REV@);
CREATE INDEX needs_needed ON needs (needed, needer);
COMMIT;
-- compare-peers then runs VACUUM ANALYZE needs in a new connection
