-- q4: effective cost per owner team over [DAY_FROM, DAY_TO), in micro-units.
-- Each fact of resource r is charged to b = the smallest-id BILLED_TO target
-- of r, or if r has none, the smallest-id BILLED_TO target of the nodes r
-- is SAME_AS; then to owner(b) (as in q3; b itself if a team).  No b or an
-- unowned b: the 'unattributed' row.  Answer: (group, currency, amount,
-- facts) per group and currency.
WITH RECURSIVE
f AS (
	-- facts summed per (resource, currency) first: attribution is per resource
	SELECT resource, currency, sum(amount) AS amount, count(*) AS facts FROM costs
	WHERE day >= @DAY_FROM@ AND day < @DAY_TO@
	GROUP BY resource, currency
),
billed AS (
	SELECT r.resource,
	       coalesce((SELECT min(e.dst) FROM edges e
	                 WHERE e.src = r.resource AND e.type = @E_BILLED_TO@),
	                (SELECT min(e2.dst) FROM edges s JOIN edges e2 ON e2.src = s.dst
	                 WHERE s.src = r.resource AND s.type = @E_SAME_AS@
	                   AND e2.type = @E_BILLED_TO@)) AS b
	FROM (SELECT DISTINCT resource FROM f) r
),
chain(root, node, step) AS (
	SELECT DISTINCT b, b, 0 FROM billed WHERE b IS NOT NULL
	UNION ALL
	SELECT c.root,
	       (SELECT min(p.dst) FROM edges p WHERE p.src = c.node AND p.type = @E_PART_OF@),
	       c.step + 1
	FROM chain c JOIN nodes n ON n.id = c.node
	WHERE n.type <> @N_TEAM@
	  AND NOT EXISTS (SELECT 1 FROM edges o WHERE o.dst = c.node AND o.type = @E_OWNS@)
	  AND c.step < 64
),
owner AS (
	-- the one row per root where the walk stopped: no node (no PART_OF),
	-- a team, an owned node, or the step bound
	SELECT c.root AS b,
	       CASE WHEN n.type = @N_TEAM@ THEN n.id
	            ELSE (SELECT min(o.src) FROM edges o WHERE o.dst = c.node AND o.type = @E_OWNS@)
	       END AS owner
	FROM chain c LEFT JOIN nodes n ON n.id = c.node
	WHERE n.id IS NULL OR n.type = @N_TEAM@ OR c.step = 64
	   OR EXISTS (SELECT 1 FROM edges o WHERE o.dst = c.node AND o.type = @E_OWNS@)
)
SELECT coalesce(k.key, 'unattributed'), f.currency, sum(f.amount), sum(f.facts)
FROM f JOIN billed bl ON bl.resource = f.resource
     LEFT JOIN owner o ON o.b = bl.b
     LEFT JOIN nodes k ON k.id = o.owner
GROUP BY coalesce(k.key, 'unattributed'), f.currency;
