-- q1: blast radius of the hub, unbounded, over all dependency edge types.
-- Answer: the set of dependents (string ids), root excluded.  UNION (not
-- UNION ALL) on the node makes this plain reachability, so cycles end.
WITH RECURSIVE r(node) AS (
	SELECT @HUB@
	UNION
	SELECT n.needer FROM needs n JOIN r ON n.needed = r.node
)
SELECT k.key FROM r JOIN nodes k ON k.id = r.node WHERE r.node <> @HUB@;
