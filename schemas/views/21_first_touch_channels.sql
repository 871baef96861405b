-- first_touch_channels: a person's channel, the channel of their first touchpoint on a day in the range (by
-- touch_time, ties by touchpoint_id). A person without one is 'direct' where the views join this.
CREATE OR REPLACE VIEW first_touch_channels AS
SELECT user_key, toString(argMin(channel, (touch_time, touchpoint_id))) AS channel
FROM touchpoints_current
WHERE app_id = {app:String} AND toDate(touch_time) BETWEEN {date_from:Date} AND {date_to:Date}
GROUP BY user_key;
