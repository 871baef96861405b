"""The operators' analytics dashboard: one static page over the JSON report API (docs/dashboard.md)."""
