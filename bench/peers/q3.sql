-- q3: owner of each of the 101 sample services.
-- owner(x) = x if x is a Team; else the smallest-id source of OWNS edges into
-- x; else owner(p) for the smallest-id p with x -PART_OF-> p; else unowned.
-- The chain walks PART_OF while the node is neither a team nor owned; a
-- node without PART_OF ends it with a NULL node (unowned); 64 steps bound a
-- PART_OF cycle (unowned).  Node ids are numbered in string-id order, so
-- min(id) is the smallest string id.
WITH RECURSIVE chain(root, node, step) AS (
	SELECT id, id, 0 FROM sample
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
	SELECT c.root,
	       CASE WHEN n.type = @N_TEAM@ THEN n.id
	            ELSE (SELECT min(o.src) FROM edges o WHERE o.dst = c.node AND o.type = @E_OWNS@)
	       END AS owner
	FROM chain c LEFT JOIN nodes n ON n.id = c.node
	WHERE n.id IS NULL OR n.type = @N_TEAM@ OR c.step = 64
	   OR EXISTS (SELECT 1 FROM edges o WHERE o.dst = c.node AND o.type = @E_OWNS@)
)
SELECT s.key, coalesce(k.key, 'unowned')
FROM owner o JOIN nodes s ON s.id = o.root LEFT JOIN nodes k ON k.id = o.owner;
