-- Persons brought by a share in the range, by share depth of the visit that brought them.
CREATE OR REPLACE VIEW share_depths AS
SELECT depth, count() AS users
FROM share_edges(app = {app:String}, date_from = {date_from:Date}, date_to = {date_to:Date})
GROUP BY depth
ORDER BY depth;
