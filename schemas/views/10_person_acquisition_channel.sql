-- One acquisition channel per person, for the views that need a single label (RFM, layers): the person's
-- first registration, else their first order, on or before `as_of` (so a past report does not change when
-- later conversions arrive), labelled with its largest first_touch credit (ties: the smaller touch_index).
-- Persons with no acquisition are absent here: callers label them 'unattributed'.
CREATE OR REPLACE VIEW person_acquisition_channel AS
SELECT a.user_key AS user_key, CAST(ch.channel AS String) AS acquisition_channel
FROM
(
    SELECT
        user_key,
        argMin(conversion_id, (conversion_type != 'register', conversion_time, conversion_id)) AS conversion_id
    FROM person_conversions(app = {app:String})
    WHERE conversion_type IN ('register', 'convert') AND day <= {as_of:Date}
    GROUP BY user_key
) AS a
INNER JOIN
(
    SELECT conversion_id, argMin(channel, (-credit, touch_index)) AS channel
    FROM attribution_credits_current
    WHERE app_id = {app:String} AND model = 'first_touch'
    GROUP BY conversion_id
) AS ch ON ch.conversion_id = a.conversion_id;
