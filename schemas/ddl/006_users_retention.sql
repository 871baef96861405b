-- Retention cohorts, RFM, user layers and share analysis (docs/queries.md, section "Users: retention, RFM,
-- layers and share analysis").
-- Every view reads only the *_current views and events_people, so re-attributions and identity merges apply
-- without double counting. The three person_* views are building blocks shared by the others.

-- Every current conversion of an app with the person it belongs to *now*. A conversion that became final
-- before a later identity merge keeps the user_key it was written with, while events_people follows the
-- merge. Re-reading the person from the conversion's own event keeps conversions and activity on one key
-- (the stored user_key is the fallback when the event is not in events_people).
CREATE VIEW IF NOT EXISTS person_conversions AS
SELECT
    c.conversion_id AS conversion_id,
    c.conversion_type AS conversion_type,
    c.conversion_time AS conversion_time,
    toDate(c.conversion_time) AS day,
    c.order_id AS order_id,
    toFloat64(c.revenue) AS revenue,
    c.currency AS currency,
    coalesce(nullIf(e.user_key, ''), c.user_key) AS user_key
FROM
(
    SELECT conversion_id, event_id, user_key, conversion_type, conversion_time, order_id, revenue, currency
    FROM conversions_current
    WHERE app_id = {app:String}
) AS c
LEFT JOIN
(
    SELECT event_id, any(user_key) AS user_key
    FROM events_people
    WHERE app_id = {app:String}
      AND event_id IN (SELECT event_id FROM conversions_current WHERE app_id = {app:String})
    GROUP BY event_id
) AS e ON e.event_id = c.event_id;

-- A person's acquisition: their first current conversion of type `acquisition` ('register' or 'convert'),
-- by conversion time, ties broken by conversion_id so the answer never depends on the scan order.
CREATE VIEW IF NOT EXISTS person_acquisitions AS
SELECT
    c.user_key AS user_key,
    argMin(c.conversion_id, (c.conversion_time, c.conversion_id)) AS conversion_id,
    min(c.conversion_time) AS conversion_time,
    toDate(min(c.conversion_time)) AS day
FROM person_conversions(app = {app:String}) AS c
WHERE c.conversion_type = {acquisition:String}
GROUP BY c.user_key;

-- One acquisition channel per person, for the views that need a single label (RFM, layers): the person's
-- first registration, else their first order, on or before `as_of` (so a past report does not change when
-- later conversions arrive), labelled with its largest first_touch credit (ties: the smaller touch_index).
-- Persons with no acquisition are absent here: callers label them 'unattributed'.
CREATE VIEW IF NOT EXISTS person_acquisition_channel AS
SELECT a.user_key AS user_key, CAST(ch.channel AS String) AS acquisition_channel
FROM
(
    SELECT
        user_key,
        argMin(conversion_id, (conversion_type != 'register', conversion_time, conversion_id)) AS conversion_id
    FROM person_conversions(app = {app:String})
    WHERE conversion_type IN ('register', 'convert') AND day <= {as_of:Date}
    GROUP BY user_key
) AS a
INNER JOIN
(
    SELECT conversion_id, argMin(channel, (-credit, touch_index)) AS channel
    FROM attribution_credits_current
    WHERE app_id = {app:String} AND model = 'first_touch'
    GROUP BY conversion_id
) AS ch ON ch.conversion_id = a.conversion_id;

-- Day 1 / 7 / 30 retention of acquisition cohorts, by acquisition channel under one attribution model.
-- A person is in the cohort of their acquisition day (grain 'day') or its Monday (grain 'week'), and is
-- retained on day N when active (any event but `exposure`) on acquisition day + N. Each person counts with
-- the credit each channel got for their acquisition under `model`, so the channel rows of a cohort add up
-- to its 'all' row. An acquisition with no credits under `model` counts under 'unattributed'. Day N is
-- observable only before the app's last event day (that day may still be filling in; and not today(), so
-- the answer is reproducible), and the rate is retained / eligible over the persons whose day N is
-- observable (NULL when none is).
CREATE VIEW IF NOT EXISTS retention AS
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

-- RFM of the persons with at least one order (convert or repurchase) in the range. Each bit is "better than
-- the average of the persons in this view" (strictly: recency below it, frequency and monetary above it),
-- so the split adapts to the app and the period. The 8 segments are the classic RFM customer-value grid
-- (重要价值客户 ... 一般挽留客户), named by stable English ids, mapped in docs/queries.md.
CREATE VIEW IF NOT EXISTS user_rfm AS
WITH
    scored AS
    (
        SELECT
            user_key,
            toUInt32(dateDiff('day', last_order, {date_to:Date})) AS recency_days,
            toUInt32(orders) AS frequency,
            monetary,
            toUInt8(recency_days < avg(recency_days) OVER ()) AS r_high,
            toUInt8(frequency > avg(frequency) OVER ()) AS f_high,
            toUInt8(monetary > avg(monetary) OVER ()) AS m_high
        FROM
        (
            SELECT user_key, max(day) AS last_order, count() AS orders, sum(revenue) AS monetary
            FROM person_conversions(app = {app:String})
            WHERE conversion_type IN ('convert', 'repurchase') AND day BETWEEN {date_from:Date} AND {date_to:Date}
            GROUP BY user_key
        )
    )
SELECT
    s.user_key AS user_key,
    s.recency_days AS recency_days,
    s.frequency AS frequency,
    s.monetary AS monetary,
    s.r_high AS r_high,
    s.f_high AS f_high,
    s.m_high AS m_high,
    transform(s.r_high * 4 + s.f_high * 2 + s.m_high, [7, 5, 3, 1, 6, 4, 2, 0],
              ['champions', 'potential_loyalists', 'cant_lose_them', 'at_risk',
               'loyal_low_spenders', 'new_customers', 'need_attention', 'hibernating'], '') AS segment,
    coalesce(nullIf(l.acquisition_channel, ''), 'unattributed') AS acquisition_channel
FROM scored AS s
LEFT JOIN person_acquisition_channel(app = {app:String}, as_of = {date_to:Date}) AS l ON l.user_key = s.user_key
ORDER BY user_key;

-- Size, revenue and average R/F/M of each RFM segment of the range (segments with nobody are absent).
CREATE VIEW IF NOT EXISTS rfm_segments AS
SELECT
    segment,
    count() AS users,
    sum(monetary) AS revenue,
    avg(recency_days) AS avg_recency,
    avg(frequency) AS avg_frequency,
    avg(monetary) AS avg_monetary
FROM user_rfm(app = {app:String}, date_from = {date_from:Date}, date_to = {date_to:Date})
GROUP BY segment
ORDER BY users DESC, segment;

-- Every person seen on or before `as_of`, in one layer: new (first seen within the 7 days ending as_of),
-- else active (active within those 7 days), else dormant (active within the 30 days ending as_of), else
-- churned. Both windows end on as_of and include it, so "8..30 days" means days 8 to 30 counting as_of as
-- day 1 and no day falls between two layers. A person whose only events are exposures was never active:
-- last_active is then 1970-01-01 and they are churned unless new.
CREATE VIEW IF NOT EXISTS user_layers AS
SELECT
    p.user_key AS user_key,
    p.first_seen AS first_seen,
    p.last_active AS last_active,
    multiIf(p.first_seen >= {as_of:Date} - 6, 'new',
            p.ever_active AND p.last_active >= {as_of:Date} - 6, 'active',
            p.ever_active AND p.last_active >= {as_of:Date} - 29, 'dormant',
            'churned') AS layer,
    coalesce(nullIf(l.acquisition_channel, ''), 'unattributed') AS acquisition_channel
FROM
(
    SELECT
        user_key,
        min(day) AS first_seen,
        maxIf(day, type != 'exposure') AS last_active,
        countIf(type != 'exposure') > 0 AS ever_active
    FROM events_people
    WHERE app_id = {app:String} AND day <= {as_of:Date}
    GROUP BY user_key
) AS p
LEFT JOIN person_acquisition_channel(app = {app:String}, as_of = {as_of:Date}) AS l ON l.user_key = p.user_key
ORDER BY user_key;

-- Persons per layer, overall ('all') and by acquisition channel.
CREATE VIEW IF NOT EXISTS user_layer_counts AS
SELECT layer, channel, count() AS users
FROM user_layers(app = {app:String}, as_of = {as_of:Date})
ARRAY JOIN ['all', acquisition_channel] AS channel
GROUP BY layer, channel
ORDER BY indexOf(['new', 'active', 'dormant', 'churned'], layer), channel != 'all', channel;

-- Who brings whom: each person's first visit through someone else's share in the range (an event with a
-- share_from), once. The sharer is the person owning share_from, looked up as a login, unionid, openid and
-- device id in that order (the SDK sends whichever it has), else 'unknown:<raw value>'. Visits through
-- one's own share are left out before picking the first, since they bring nobody.
CREATE VIEW IF NOT EXISTS share_edges AS
WITH
    visits AS
    (
        SELECT user_key, share_from AS raw, toUInt8(ifNull(share_depth, 1)) AS depth, event_time, event_id
        FROM events_people
        WHERE app_id = {app:String} AND share_from != '' AND day BETWEEN {date_from:Date} AND {date_to:Date}
    ),
    sharers AS
    (
        SELECT t.raw AS raw, argMin(i.user_key, t.priority) AS sharer_key
        FROM
        (
            SELECT raw, candidate.1 AS typed_id, candidate.2 AS priority
            FROM (SELECT DISTINCT raw FROM visits)
            ARRAY JOIN [('uid:' || raw, 1), ('unionid:' || raw, 2), ('openid:' || raw, 3), ('anon:' || raw, 4)]
                AS candidate
        ) AS t
        INNER JOIN
        (
            SELECT typed_id, user_key FROM identities_current WHERE app_id = {app:String}
        ) AS i ON i.typed_id = t.typed_id
        GROUP BY t.raw
    ),
    resolved AS
    (
        SELECT
            v.user_key AS user_key,
            coalesce(nullIf(s.sharer_key, ''), 'unknown:' || v.raw) AS sharer_key,
            v.depth AS depth, v.event_time AS event_time, v.event_id AS event_id
        FROM visits AS v
        LEFT JOIN sharers AS s ON s.raw = v.raw
    )
SELECT
    argMin(r.sharer_key, (r.event_time, r.event_id)) AS sharer_key,
    r.user_key AS user_key,
    argMin(r.depth, (r.event_time, r.event_id)) AS depth,
    min(r.event_time) AS first_time
FROM resolved AS r
WHERE r.sharer_key != r.user_key
GROUP BY r.user_key
ORDER BY first_time, user_key;

-- Persons brought by a share in the range, by share depth of the visit that brought them.
CREATE VIEW IF NOT EXISTS share_depths AS
SELECT depth, count() AS users
FROM share_edges(app = {app:String}, date_from = {date_from:Date}, date_to = {date_to:Date})
GROUP BY depth
ORDER BY depth;

-- Sharers ranked by persons brought in the range, with how many of those ordered in the range and their
-- revenue in the range (each brought person has one sharer, so revenue is never counted twice).
CREATE VIEW IF NOT EXISTS top_sharers AS
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
