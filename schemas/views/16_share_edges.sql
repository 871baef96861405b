-- Who brings whom: each person's first visit through someone else's share in the range (an event with a
-- share_from), once. The sharer is the person owning share_from, looked up as a login, unionid, openid and
-- device id in that order (the SDK sends whichever it has), else 'unknown:<raw value>'. Visits through
-- one's own share are left out before picking the first, since they bring nobody.
CREATE OR REPLACE VIEW share_edges AS
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
