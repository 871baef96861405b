-- Scene values per platform (docs/channels.md, "Scene values per platform"): a scene is the platform's text,
-- '1007' (WeChat, Alipay), '021001' (Douyin, whose leading zero an integer would lose), '10810008' or 'NA'
-- (Baidu), '' when the launch had none. Existing WeChat values read as their decimal text ('1007'); the 0 that
-- meant "no scene" becomes ''.
ALTER TABLE events MODIFY COLUMN scene String;

ALTER TABLE touchpoints MODIFY COLUMN scene String;

-- Synchronous, so no reader ever sees the old '0' after this migration is recorded as applied.
ALTER TABLE events UPDATE scene = '' WHERE scene = '0' SETTINGS mutations_sync = 2;

ALTER TABLE touchpoints UPDATE scene = '' WHERE scene = '0' SETTINGS mutations_sync = 2;

-- The views of this migration are in schemas/views/ (created again at every start).
