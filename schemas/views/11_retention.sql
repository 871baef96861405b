-- Day 1 / 7 / 30 retention of acquisition cohorts, by acquisition channel under one attribution model.
-- A person is in the cohort of their acquisition day (grain 'day') or its Monday (grain 'week'), and is
-- retained on day N when active (any event but `exposure`) on acquisition day + N. Each person counts with
-- the credit each channel got for their acquisition under `model`, so the channel rows of a cohort add up
-- to its 'all' row. An acquisition with no credits under `model` counts under 'unattributed'. Day N is
-- observable only before the app's last event day (that day may still be filling in; and not today(), so
-- the answer is reproducible), and the rate is retained / eligible over the persons whose day N is
-- observable (NULL when none is).
CREATE OR REPLACE VIEW retention AS
WITH
    (SELECT max(day) FROM events_people WHERE app_id = {app:String}) AS last_day,
    cohort_people AS
    (
        SELECT
            user_key, conversion_id, day AS acq_day,
            multiIf({grain:String} = 'day', day, {grain:String} = 'week', toMonday(day),
                    toDate(throwIf(1, 'grain must be day or week'))) AS cohort
        FROM person_acquisitions(app = {app:String}, acquisition = {acquisition:String})
        WHERE day BETWEEN {date_from:Date} AND {date_to:Date}
    ),
    activity AS
    (
        SELECT user_key, groupUniqArray(day) AS days
        FROM events_people
        WHERE app_id = {app:String} AND type != 'exposure'
          AND day BETWEEN {date_from:Date} + 1 AND {date_to:Date} + 30
        GROUP BY user_key
    ),
    credited AS
    (
        SELECT conversion_id, groupArray((channel, w)) AS weights
        FROM
        (
            SELECT conversion_id, CAST(channel AS String) AS channel, sum(credit) AS w
            FROM attribution_credits_current
            WHERE app_id = {app:String} AND model = {model:String} AND conversion_type = {acquisition:String}
              AND toDate(conversion_time) BETWEEN {date_from:Date} AND {date_to:Date}
            GROUP BY conversion_id, channel
        )
        GROUP BY conversion_id
    ),
    flagged AS
    (
        SELECT
            p.cohort AS cohort,
            c.weights AS weights,
            p.acq_day + 1 < last_day AS e1,
            p.acq_day + 7 < last_day AS e7,
            p.acq_day + 30 < last_day AS e30,
            has(a.days, p.acq_day + 1) AS a1,
            has(a.days, p.acq_day + 7) AS a7,
            has(a.days, p.acq_day + 30) AS a30
        FROM cohort_people AS p
        LEFT JOIN credited AS c ON c.conversion_id = p.conversion_id
        LEFT JOIN activity AS a ON a.user_key = p.user_key
    )
SELECT
    cohort,
    share.1 AS channel,
    sum(share.2) AS users,
    sumIf(share.2, e1) AS d1_eligible,
    sumIf(share.2, e1 AND a1) AS d1_retained,
    CAST(if(d1_eligible = 0, NULL, d1_retained / d1_eligible) AS Nullable(Float64)) AS d1_rate,
    sumIf(share.2, e7) AS d7_eligible,
    sumIf(share.2, e7 AND a7) AS d7_retained,
    CAST(if(d7_eligible = 0, NULL, d7_retained / d7_eligible) AS Nullable(Float64)) AS d7_rate,
    sumIf(share.2, e30) AS d30_eligible,
    sumIf(share.2, e30 AND a30) AS d30_retained,
    CAST(if(d30_eligible = 0, NULL, d30_retained / d30_eligible) AS Nullable(Float64)) AS d30_rate
FROM flagged
ARRAY JOIN arrayConcat([('all', 1.)], if(empty(weights), [('unattributed', 1.)], weights)) AS share
GROUP BY cohort, channel
ORDER BY cohort, channel;
