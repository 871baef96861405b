-- Merges of the wide tables read one column at a time (ClickHouse's vertical merge), whatever their size.
--
-- A horizontal merge keeps a read buffer open for every column of every part it merges. The processor writes
-- many small parts (one per table, partition and flush), so a merge of the events table (39 columns) took
-- 170-220 MiB of memory, most of the stream processor's peak. The vertical one merges the sorting key first, then
-- gathers each other column on its own: 12-32 MiB, for the same CPU (BENCHMARKS.md, 2026-12-03). ClickHouse
-- uses it only from 131,072 rows by default; from one row here. It never does for fewer than 11 columns
-- (vertical_merge_algorithm_min_columns_to_activate), so the narrow tables are left as they are. A new table of
-- 11 columns or more takes the same setting in its CREATE TABLE (tests/integration/test_store.py checks).
ALTER TABLE events MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1;
ALTER TABLE bad_events MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1;
ALTER TABLE touchpoints MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1;
ALTER TABLE conversions MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1;
ALTER TABLE attribution_credits MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1;
ALTER TABLE ad_spend MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1;
ALTER TABLE postback_intents MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1;
ALTER TABLE postback_attempts MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1;
ALTER TABLE privacy_requests MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1;
