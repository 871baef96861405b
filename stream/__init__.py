"""The stream processor: consumes the collector's topics, writes events (and, on top, attribution) to ClickHouse."""
