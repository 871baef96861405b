CREATE OR REPLACE VIEW conversions_current AS
SELECT
    app_id, conversion_id,
    argMax(event_id, version) AS event_id,
    argMax(user_key, version) AS user_key,
    argMax(conversion_type, version) AS conversion_type,
    argMax(conversion_time, version) AS conversion_time,
    argMax(order_id, version) AS order_id,
    argMax(revenue, version) AS revenue,
    argMax(currency, version) AS currency,
    argMax(touch_count, version) AS touch_count,
    max(version) AS current_version,
    argMax(refunded, version) AS refunded,
    argMax(net_revenue, version) AS net_revenue
FROM conversions
GROUP BY app_id, conversion_id
HAVING argMax(deleted, version) = 0;
