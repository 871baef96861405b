-- Refunds, and revenue in the app's reporting currency (docs/attribution.md "Refunds", docs/queries.md).
-- * conversions.refunded: the sum of the order's accepted refunds at that version; revenue stays the gross
--   amount, net_revenue = revenue - refunded (a column default, so rows written before this migration read 0
--   refunded and their revenue as net).
-- * attribution_credits.refund_credit: the touch's part of the refunds, split with the same shares and the same
--   largest-remainder rule as revenue_credit, which is now the touch's part of the NET revenue. Per model and
--   conversion, revenue_credit sums to net_revenue and refund_credit to refunded, to the cent.
-- * channel_performance: gross_revenue, refunds and revenue (net) per row; ROAS and ROI on the net revenue.
--   Every amount is in the app's reporting currency: the collector converts revenue and refunds sent in
--   another currency with the exchange rate of their day (collector/revenue.py), as it converts spend.
ALTER TABLE conversions ADD COLUMN IF NOT EXISTS refunded Decimal(18, 4) DEFAULT 0;

ALTER TABLE conversions ADD COLUMN IF NOT EXISTS net_revenue Decimal(18, 4) DEFAULT revenue - refunded;

ALTER TABLE attribution_credits ADD COLUMN IF NOT EXISTS refund_credit Decimal(18, 4) DEFAULT 0;

-- The views of this migration are in schemas/views/ (created again at every start).
