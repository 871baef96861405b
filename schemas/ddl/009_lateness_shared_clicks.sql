-- What arrived past the allowed lateness, and ad click ids carried by another person's visit
-- (docs/attribution.md, "History imports" and "One ad click is one person's").
-- * arrived_late: 1 when the row's event time was older than its app's newest event time minus the allowed
--   lateness when it reached the processor (a history import, a device that was offline for long). Such
--   touches and conversions are judged by their person's own newest event, not the app's.
-- * shared_click: 1 on a visit that carried a click id belonging to another person (a share link copied
--   with the ad's landing query); its channel comes from the visit's other signals.
ALTER TABLE events ADD COLUMN IF NOT EXISTS arrived_late UInt8 DEFAULT 0;

ALTER TABLE touchpoints ADD COLUMN IF NOT EXISTS arrived_late UInt8 DEFAULT 0;

ALTER TABLE touchpoints ADD COLUMN IF NOT EXISTS shared_click UInt8 DEFAULT 0;

ALTER TABLE conversions ADD COLUMN IF NOT EXISTS arrived_late UInt8 DEFAULT 0;

-- The views of this migration are in schemas/views/ (created again at every start).
