-- Retention cohorts, RFM, user layers and share analysis (docs/queries.md, section "Users: retention, RFM,
-- layers and share analysis").
-- Every view reads only the *_current views and events_people, so re-attributions and identity merges apply
-- without double counting. The three person_* views are building blocks shared by the others.

-- The views of this migration are in schemas/views/ (created again at every start).
