-- Channel performance (docs/queries.md): per day x channel x campaign x creative under one attribution model,
-- the attributed acquisitions (each person's first conversion of the acquisition type), conversions, orders
-- and revenue (gross_revenue, refunds, and revenue = net of refunds), the spend, and CAC / ROAS / ROI (on the
-- net revenue). Refunds count on the order's day.
--
-- Parameters: app, date_from, date_to (inclusive days), model, acquisition ('register' or 'convert': which
-- conversion counts as acquiring a customer), allocation ('acquisitions' or 'credit').
--
-- Spend known only at channel level (campaign = '') or campaign level (creative = '') is allocated down to the
-- rows of that day and channel (campaign) in proportion to their attributed acquisitions (or, with
-- allocation = 'credit', their attributed conversions of every type). When there is nothing to allocate by, the
-- spend stays on the channel (campaign) row itself, so the allocated spend always sums back to the spend. Spend
-- rows with a creative are attached as they are. Every amount is in the app's reporting currency: the collector
-- converts revenue and refunds sent in another currency with the exchange rate of their day, as it converts spend.
CREATE OR REPLACE VIEW channel_performance AS
WITH
acquisition_ids AS (
    -- A person is acquired once: after a late identity merge two registrations may both stay current, and
    -- only the person's first counts (the same rule as the retention cohorts, person_acquisitions).
    SELECT conversion_id FROM person_acquisitions(app = {app:String}, acquisition = {acquisition:String})
),
credited AS (
    SELECT toDate(conversion_time) AS day, channel, campaign, creative,
        any(channel_type) AS channel_type,
        sumIf(credit, conversion_type = {acquisition:String} AND conversion_id IN acquisition_ids) AS acquisitions,
        sum(credit) AS conversions,
        sumIf(credit, conversion_type IN ('convert', 'repurchase')) AS orders,
        toFloat64(sum(revenue_credit + refund_credit)) AS gross_revenue,
        toFloat64(sum(refund_credit)) AS refunds,
        toFloat64(sum(revenue_credit)) AS revenue
    FROM attribution_credits_current
    WHERE app_id = {app:String} AND model = {model:String}
        AND toDate(conversion_time) BETWEEN {date_from:Date} AND {date_to:Date}
    GROUP BY day, channel, campaign, creative
),
spend AS (
    SELECT date AS day, channel, campaign, creative, toFloat64(sum(spend_reporting)) AS spend,
        multiIf(creative != '', 'creative', campaign != '', 'campaign', 'channel') AS level
    FROM ad_spend_current
    WHERE app_id = {app:String} AND date BETWEEN {date_from:Date} AND {date_to:Date}
    GROUP BY day, channel, campaign, creative
),
grid AS (
    SELECT k.day AS day, k.channel AS channel, k.campaign AS campaign, k.creative AS creative,
        c.channel_type AS channel_type, c.acquisitions AS acquisitions, c.conversions AS conversions,
        c.orders AS orders, c.gross_revenue AS gross_revenue, c.refunds AS refunds, c.revenue AS revenue,
        if({allocation:String} = 'credit', c.conversions, c.acquisitions) AS weight
    FROM
    (
        SELECT day, channel, campaign, creative FROM credited
        UNION DISTINCT
        SELECT day, channel, campaign, creative FROM spend
    ) AS k
    LEFT JOIN credited AS c ON c.day = k.day AND c.channel = k.channel AND c.campaign = k.campaign
        AND c.creative = k.creative
),
weighted AS (
    SELECT *,
        sum(weight) OVER (PARTITION BY day, channel) AS channel_weight,
        sum(weight) OVER (PARTITION BY day, channel, campaign) AS campaign_weight
    FROM grid
),
channel_types AS (
    -- One type per channel over the whole range, so a day with spend but no credits does not split a channel.
    SELECT channel, anyIf(channel_type, channel_type != '') AS credited_type FROM credited GROUP BY channel
),
catalog AS (
    SELECT channel, argMax(channel_type, taxonomy_version) AS channel_type FROM channel_catalog GROUP BY channel
),
allocated AS (
    SELECT w.day AS day, w.channel AS channel, w.campaign AS campaign, w.creative AS creative,
        if(ct.credited_type != '', ct.credited_type, if(cat.channel_type != '', cat.channel_type, 'unknown'))
            AS channel_type,
        w.acquisitions AS acquisitions, w.conversions AS conversions, w.orders AS orders,
        w.gross_revenue AS gross_revenue, w.refunds AS refunds, w.revenue AS revenue,
        exact.spend
        + multiIf(w.campaign_weight > 0, by_campaign.spend * w.weight / w.campaign_weight,
                  w.creative = '', by_campaign.spend, 0)
        + multiIf(w.channel_weight > 0, by_channel.spend * w.weight / w.channel_weight,
                  w.campaign = '' AND w.creative = '', by_channel.spend, 0) AS spend
    FROM weighted AS w
    LEFT JOIN (SELECT day, channel, campaign, creative, spend FROM spend WHERE level = 'creative') AS exact
        ON exact.day = w.day AND exact.channel = w.channel AND exact.campaign = w.campaign
        AND exact.creative = w.creative
    LEFT JOIN (SELECT day, channel, campaign, spend FROM spend WHERE level = 'campaign') AS by_campaign
        ON by_campaign.day = w.day AND by_campaign.channel = w.channel AND by_campaign.campaign = w.campaign
    LEFT JOIN (SELECT day, channel, spend FROM spend WHERE level = 'channel') AS by_channel
        ON by_channel.day = w.day AND by_channel.channel = w.channel
    LEFT JOIN channel_types AS ct ON ct.channel = w.channel
    LEFT JOIN catalog AS cat ON cat.channel = w.channel
)
SELECT
    {app:String} AS app_id, day, {model:String} AS model, channel_type, channel, campaign, creative,
    acquisitions, conversions, orders, gross_revenue, refunds, revenue, spend,
    if(acquisitions > 0, spend / acquisitions, NULL) AS cac,
    if(spend > 0, revenue / spend, NULL) AS roas,
    if(spend > 0, (revenue - spend) / spend, NULL) AS roi
FROM allocated
ORDER BY day, channel_type, channel, campaign, creative;
