-- Every person seen on or before `as_of`, in one layer: new (first seen within the 7 days ending as_of),
-- else active (active within those 7 days), else dormant (active within the 30 days ending as_of), else
-- churned. Both windows end on as_of and include it, so "8..30 days" means days 8 to 30 counting as_of as
-- day 1 and no day falls between two layers. A person whose only events are exposures was never active:
-- last_active is then 1970-01-01 and they are churned unless new.
CREATE OR REPLACE VIEW user_layers AS
SELECT
    p.user_key AS user_key,
    p.first_seen AS first_seen,
    p.last_active AS last_active,
    multiIf(p.first_seen >= {as_of:Date} - 6, 'new',
            p.ever_active AND p.last_active >= {as_of:Date} - 6, 'active',
            p.ever_active AND p.last_active >= {as_of:Date} - 29, 'dormant',
            'churned') AS layer,
    coalesce(nullIf(l.acquisition_channel, ''), 'unattributed') AS acquisition_channel
FROM
(
    SELECT
        user_key,
        min(day) AS first_seen,
        maxIf(day, type != 'exposure') AS last_active,
        countIf(type != 'exposure') > 0 AS ever_active
    FROM events_people
    WHERE app_id = {app:String} AND day <= {as_of:Date}
    GROUP BY user_key
) AS p
LEFT JOIN person_acquisition_channel(app = {app:String}, as_of = {as_of:Date}) AS l ON l.user_key = p.user_key
ORDER BY user_key;
