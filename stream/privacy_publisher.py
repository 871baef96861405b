"""The processor's producer for the compacted privacy topic (outcomes of requests, suppression entries).

Started on the first request, so a processor that never sees one opens no producer. acks=all and the idempotent
producer, with our own deadline (aiokafka never times a send out with idempotence on: docs/reliability). A
failure is `StoreUnavailable`: the flush fails and its range, requests included, is replayed from the checkpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.records import OutRecord
from stream.errors import StoreUnavailable


class KafkaPublisher:
    def __init__(self, bootstrap: str, deadline_s: float = 10.0) -> None:
        self._bootstrap = bootstrap
        self._deadline_s = deadline_s
        self._producer: AIOKafkaProducer | None = None

    async def publish(self, records: Sequence[OutRecord]) -> None:
        try:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap, acks="all", enable_idempotence=True,
                    client_id="touchstream-stream-privacy",
                )
                await asyncio.wait_for(producer.start(), self._deadline_s)
                self._producer = producer
            futures = [
                await self._producer.send(r.topic, r.value, key=r.key, headers=list(r.headers)) for r in records
            ]
            await asyncio.wait_for(asyncio.gather(*futures), self._deadline_s)
        except (KafkaError, TimeoutError, OSError) as exc:
            msg = f"the privacy topic did not acknowledge: {type(exc).__name__}"
            raise StoreUnavailable(msg) from exc

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()
