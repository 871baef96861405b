"""The collector: the public HTTP edge that validates SDK batches and hands them durably to Kafka."""
