-- RFM of the persons with at least one order (convert or repurchase) in the range. Each bit is "better than
-- the average of the persons in this view" (strictly: recency below it, frequency and monetary above it),
-- so the split adapts to the app and the period. The 8 segments are the classic RFM customer-value grid
-- (重要价值客户 ... 一般挽留客户), named by stable English ids, mapped in docs/queries.md.
CREATE OR REPLACE VIEW user_rfm AS
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
