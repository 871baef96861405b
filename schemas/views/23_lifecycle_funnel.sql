-- lifecycle_funnel: the funnel of the lifecycle steps. This statement is what stream/reports/funnel_sql.py
-- builds for them (a unit test checks it character for character).
CREATE OR REPLACE VIEW lifecycle_funnel AS
SELECT * FROM funnel(
    app={app:String}, date_from={date_from:Date}, date_to={date_to:Date}, window_s={window_s:UInt32},
    steps=['exposure', 'click', 'enter', 'register', 'activate', 'convert', 'repurchase']
);
