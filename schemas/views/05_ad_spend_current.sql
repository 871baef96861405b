CREATE OR REPLACE VIEW ad_spend_current AS
SELECT
    app_id, date, channel, campaign, creative, source,
    argMax(spend, version) AS spend,
    argMax(currency, version) AS currency,
    argMax(spend_reporting, version) AS spend_reporting,
    argMax(reporting_currency, version) AS reporting_currency,
    argMax(fx_rate, version) AS fx_rate,
    argMax(received_at, version) AS received_at
FROM ad_spend
GROUP BY app_id, date, channel, campaign, creative, source;
