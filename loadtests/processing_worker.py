"""One side of `bench_processing`: the pure processing step of one checkout over pickled records.

    python loadtests/processing_worker.py TREE RECORDS.pickle

Imports `stream` from TREE (this tree or a baseline checkout), so it uses only what every version since
d346ffb has: `PartitionProcessor(events_topic, deadletter_topic, window, max_ids, engine_factory)` and
`SourceRecord(topic, partition, offset, value, timestamp_ms, ...)`, and whichever processing entry point the
tree has (`questions` + `process`; `decode` + `unknown_conversions` + `process_decoded`; or `process`), each
called the way that tree's consumer calls it. Prints one JSON line: CPU seconds of the processing alone
(no Kafka, no ClickHouse), events, rows, and a digest of each table's rows (order aside).
"""

from __future__ import annotations

import gc
import hashlib
import json
import pickle
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

SLICE_RECORDS = 330  # a partition's records per flush in the live benchmark (~8,500 events)


def main() -> None:
    tree, records_file = Path(sys.argv[1]), Path(sys.argv[2])
    sys.path.insert(0, str(tree))
    from stream.channels import default_taxonomy
    from stream.journeys.config import AttributionConfig
    from stream.journeys.engine import AppEngine
    from stream.processor import PartitionProcessor, SourceRecord

    gc.set_threshold(50_000, 50, 100)  # the processor's running thresholds (runtime/gc_tuning.py)
    partitions: dict[int, list[tuple[bytes, bytes, tuple[tuple[str, bytes], ...]]]] = pickle.loads(
        records_file.read_bytes()
    )
    with_key = "key" in SourceRecord.__slots__
    by_partition = {
        p: [SourceRecord("ev", p, offset, value, 0, *((key, headers) if with_key else ()))
            for offset, (value, key, headers) in enumerate(items)]
        for p, items in partitions.items()
    }
    taxonomy = default_taxonomy()
    processors = {
        p: PartitionProcessor("ev", "dl", timedelta(hours=1), 10**6,
                              lambda app: AppEngine(app, AttributionConfig(), taxonomy))
        for p in by_partition
    }
    events = rows = 0
    written: dict[str, list[tuple[Any, ...]]] = {}
    longest = max(len(items) for items in by_partition.values())
    started = time.process_time()
    for first in range(0, longest, SLICE_RECORDS):  # flush by flush, each partition in turn, as the runner does
        for p, processor in processors.items():
            out = _process(processor, by_partition[p][first:first + SLICE_RECORDS])
            events += len(out.events)
            for table, _, table_rows in out.tables():
                rows += len(table_rows)
                written.setdefault(table, []).extend(table_rows)
    cpu = time.process_time() - started
    # What each table got, order aside (after the clock stops): two trees agree on a table iff its digests do.
    digests = {t: hashlib.sha256(repr(sorted(map(repr, r))).encode()).hexdigest()[:16] for t, r in written.items()}
    print(json.dumps({"cpu_s": round(cpu, 4), "events": events, "rows": rows, "digests": digests}))


def _process(processor: Any, records: list[Any]) -> Any:
    if hasattr(processor, "questions"):
        processor.questions(records)
        return processor.process(records)
    if hasattr(processor, "process_decoded"):
        decoded = processor.decode(records)
        processor.unknown_conversions(decoded)
        return processor.process_decoded(decoded)
    return processor.process(records)


if __name__ == "__main__":
    main()
