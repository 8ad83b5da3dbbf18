-- hub check: the service with the most distinct CALLS callers (self-calls
-- excluded), ties to the smallest id; compare-peers checks it equals the
-- hub load.py picked.
SELECT k.key FROM (
	SELECT e.dst, count(*) AS callers FROM edges e JOIN nodes n ON n.id = e.dst
	WHERE e.type = @E_CALLS@ AND n.type = @N_SERVICE@ AND e.src <> e.dst
	GROUP BY e.dst
) c JOIN nodes k ON k.id = c.dst
ORDER BY c.callers DESC, c.dst LIMIT 1;
