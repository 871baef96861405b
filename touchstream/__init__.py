"""touchstream: the command line and the few runtime helpers shared by the collector and the stream processor.

The product lives in `collector/` (HTTP edge), `stream/` (Kafka → ClickHouse processor) and `schemas/` (the
event contract). This package holds what both services need and neither owns: the clock, logging, Kafka topic
administration, and the `touchstream` command.
"""
