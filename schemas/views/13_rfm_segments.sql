-- Size, revenue and average R/F/M of each RFM segment of the range (segments with nobody are absent).
CREATE OR REPLACE VIEW rfm_segments AS
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
