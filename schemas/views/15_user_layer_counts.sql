-- Persons per layer, overall ('all') and by acquisition channel.
CREATE OR REPLACE VIEW user_layer_counts AS
SELECT layer, channel, count() AS users
FROM user_layers(app = {app:String}, as_of = {as_of:Date})
ARRAY JOIN ['all', acquisition_channel] AS channel
GROUP BY layer, channel
ORDER BY indexOf(['new', 'active', 'dormant', 'churned'], layer), channel != 'all', channel;
