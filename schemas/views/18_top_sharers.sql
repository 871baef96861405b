-- Sharers ranked by persons brought in the range, with how many of those ordered in the range and their
-- revenue in the range (each brought person has one sharer, so revenue is never counted twice).
CREATE OR REPLACE VIEW top_sharers AS
WITH
    edges AS
    (
        SELECT sharer_key, user_key
        FROM share_edges(app = {app:String}, date_from = {date_from:Date}, date_to = {date_to:Date})
    ),
    buyers AS
    (
        SELECT user_key, 1 AS ordered, sum(revenue) AS revenue
        FROM person_conversions(app = {app:String})
        WHERE conversion_type IN ('convert', 'repurchase') AND day BETWEEN {date_from:Date} AND {date_to:Date}
          AND user_key IN (SELECT user_key FROM edges)
        GROUP BY user_key
    )
SELECT
    e.sharer_key AS sharer_key,
    count() AS users_brought,
    countIf(b.ordered = 1) AS converted_users,
    sum(ifNull(b.revenue, 0)) AS revenue
FROM edges AS e
LEFT JOIN buyers AS b ON b.user_key = e.user_key
GROUP BY e.sharer_key
ORDER BY users_brought DESC, revenue DESC, sharer_key;
