"""Analytics reports: the JSON report API, its SQL and its shapes (docs/queries.md)."""
