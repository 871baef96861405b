-- postbacks_current (docs/postbacks.md): the latest status of every intent, `pending` until the worker's first
-- attempt row. What is sent comes from the intent's first row (it never changes); `state` and `reattributed`
-- from its newest.
CREATE OR REPLACE VIEW postbacks_current AS
WITH intents AS (
    SELECT app_id, intent_id,
           argMax(tuple(state, reattributed), version) AS newest,
           argMin(tuple(integration_id, platform, mode, action_type, conversion_id, conversion_type,
                        conversion_time, click_id, callback, openid, unionid, revenue, currency, value_fen,
                        decided_at), version) AS first
    FROM postback_intents GROUP BY app_id, intent_id
), attempts AS (
    SELECT app_id, intent_id,
           argMax(tuple(status, http_status, code, message, at, next_attempt_at), seq) AS last,
           max(seq) AS last_seq, max(attempt) AS sends, min(at) AS first_attempt_at,
           countIf(status = 'sending') AS sendings, countIf(status = 'requeued') AS requeues
    FROM postback_attempts GROUP BY app_id, intent_id
)
SELECT intents.app_id AS app_id, intents.intent_id AS intent_id,
       first.1 AS integration_id, first.2 AS platform, first.3 AS mode, first.4 AS action_type,
       first.5 AS conversion_id, first.6 AS conversion_type, first.7 AS conversion_time, first.8 AS click_id,
       first.9 AS callback, first.10 AS openid, first.11 AS unionid, first.12 AS revenue, first.13 AS currency,
       first.14 AS value_fen, first.15 AS decided_at, newest.1 AS state, newest.2 AS reattributed,
       if(attempts.intent_id = '', 'pending', last.1) AS status, last.2 AS http_status, last.3 AS code,
       last.4 AS message, if(attempts.intent_id = '', NULL, last.5) AS status_at, last.6 AS next_attempt_at,
       attempts.last_seq AS last_seq, attempts.sends AS sends, attempts.sendings AS sendings,
       attempts.requeues AS requeues,
       if(attempts.intent_id = '', NULL, attempts.first_attempt_at) AS first_attempt_at
FROM intents LEFT JOIN attempts ON attempts.app_id = intents.app_id AND attempts.intent_id = intents.intent_id;
