"""The runtime both services stand on: clock and ids, shared settings, logging, start-up errors, Kafka topics,
back-off. It imports nothing else of ours; the collector, the processor and the command line import it (the
layers contract in pyproject.toml keeps it that way)."""
