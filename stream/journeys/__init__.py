"""Journeys: identity stitching, touchpoints, conversions and (re-)attribution per app, as pure state machines.

`AppEngine.apply(event, position)` folds one enriched event into an app's state and returns the rows to write;
nothing here knows about Kafka or ClickHouse.
"""
