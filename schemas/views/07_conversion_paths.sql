-- conversion_paths: which sequences of channels lead to conversions. For each current conversion whose
-- conversion_time is on a day in the range (one row per path and conversion type), the channels of its credited touchpoints in
-- touch_index order, read from the linear model (the model that credits every eligible touchpoint), so the
-- path is the touchpoints attribution actually considered, after re-attribution. A conversion with no
-- eligible touchpoint has the single path ['direct']. Revenue is the conversions' own revenue net of refunds
-- (gross_revenue before them, refunds their sum), not a credit.
-- A conversion without linear rows (its credits not written yet) is left out rather than guessed as direct.
CREATE OR REPLACE VIEW conversion_paths AS
WITH
    converted AS
    (
        SELECT conversion_id, conversion_type, revenue AS gross, refunded, net_revenue
        FROM conversions_current
        WHERE app_id = {app:String}
            AND toDate(conversion_time) BETWEEN {date_from:Date} AND {date_to:Date}
    ),
    paths AS
    (
        SELECT conversion_id, arrayMap(x -> x.2, arraySort(groupArray((touch_index, toString(channel))))) AS path
        FROM attribution_credits_current
        WHERE app_id = {app:String} AND model = 'linear'
            AND conversion_id IN (SELECT conversion_id FROM converted)
        GROUP BY conversion_id
    )
SELECT
    p.path AS path,
    arrayStringConcat(p.path, ' > ') AS path_text,
    count() AS conversions,
    toFloat64(sum(c.net_revenue)) AS revenue,
    p.path[1] AS first_channel,
    p.path[-1] AS last_channel,
    toUInt32(length(p.path)) AS touch_count,
    CAST(c.conversion_type AS String) AS conversion_type,
    toFloat64(sum(c.gross)) AS gross_revenue,
    toFloat64(sum(c.refunded)) AS refunds
FROM converted AS c
INNER JOIN paths AS p ON p.conversion_id = c.conversion_id
GROUP BY p.path, c.conversion_type
ORDER BY conversions DESC, path_text, conversion_type;
