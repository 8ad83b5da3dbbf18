-- q2: blast radius to depth 3 of each of the 101 sample services.
-- Answer: (root, dependent, minimum distance) for distances 1..3, root
-- excluded.  UNION on (root, node, depth) bounds the recursion by depth; the
-- minimum over depths is the shortest distance.
WITH RECURSIVE r(root, node, depth) AS (
	SELECT id, id, 0 FROM sample
	UNION
	SELECT r.root, n.needer, r.depth + 1
	FROM r JOIN needs n ON n.needed = r.node
	WHERE r.depth < 3
)
SELECT s.key, k.key, min(r.depth)
FROM r JOIN nodes s ON s.id = r.root JOIN nodes k ON k.id = r.node
WHERE r.node <> r.root
GROUP BY s.key, k.key;
