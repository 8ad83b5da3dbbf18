-- q4 totals: the input truth per currency over the window (facts, not rows).
SELECT currency, sum(amount), count(*) FROM costs
WHERE day >= @DAY_FROM@ AND day < @DAY_TO@
GROUP BY currency;
