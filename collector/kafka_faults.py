"""What a Kafka failure means for the collector, decided once: which 503 cause, and whether the producer must go.

Why a failed delivery poisons aiokafka's idempotent producer (read in aiokafka 0.14 `producer/`): the sequence
number of a partition is assigned and advanced when a batch is drained for sending (`_pop_batch`) and is never
rewound. A batch that then fails for good (a non-retriable broker answer, or a batch that expired while its
partition had no leader, as during a broker restart: `drain_by_nodes` fails it with the *retriable*
`NotLeaderForPartitionError`) leaves a gap, and every later batch of that partition is refused with
`OutOfOrderSequenceNumber`, forever: the Java client bumps the epoch in that case, aiokafka does not. The same
holds when the sender task dies (`ProducerFenced`, `OutOfOrderSequenceNumber` from a transactional path, an
unexpected error): every pending batch fails and nothing is sent again. So:

- a failure raised by `send()` before the record is queued (metadata wait, buffer full, record too large, a
  producer that is closing) leaves no trace in the producer: answer 503 and keep it;
- any failure of a queued record's delivery future poisons the producer: answer 503, close it, start a new one
  (new producer id, sequences from 0) with back-off.

The transactional producer of spend uploads (collector/sinks.py `publish_atomic`) follows the same rules: measured
on the Kafka 4.1 broker, a transaction aborted after a failed delivery aborts cleanly, but that producer's next
transaction is refused with `OutOfOrderSequenceNumber` (the gap again), so a failed delivery replaces it, and an
abort is only for a refusal before queueing. And one more rule:
- a failure of `begin_transaction`, `commit_transaction` or `abort_transaction`, or a transaction abandoned at
  its deadline, leaves the transaction in a state we cannot know: the producer is replaced. Its replacement has
  the same transactional id, and starting it (InitProducerId) makes the coordinator finish whatever the old one
  left open: committed if the commit had reached it, aborted otherwise. Either way all of an upload or none.

Nothing here decides an acknowledgement: a request is acknowledged only when every one of its futures resolved
with a result.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaTimeoutError,
    ProducerClosed,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)

from runtime.backoff import Backoff

# The causes of a 503 that come from Kafka (a bounded set: each is a metrics label value).
KAFKA_TIMEOUT = "kafka_timeout"  # no acknowledgement within the deadline; the records may still land
KAFKA_REFUSED = "kafka_refused"  # refused before queueing; the producer is fine
PRODUCER_REPLACED = "producer_replaced"  # a queued record failed: the producer is poisoned and being replaced
PRODUCER_RECOVERING = "producer_recovering"  # no usable producer yet (replacement under way)
NOT_AUTHORIZED = "kafka_not_authorized"  # an ACL refuses us: replacing will not help until an operator acts

_AUTHORIZATION = (TopicAuthorizationFailedError, ClusterAuthorizationFailedError, TransactionalIdAuthorizationFailed)


@dataclass(frozen=True, slots=True)
class Fault:
    cause: str
    replace_producer: bool
    # The exception's class name: safe to log and to answer (never the broker's text, which may name hosts).
    kind: str


def on_enqueue(exc: BaseException) -> Fault:
    """A failure of `producer.send()` itself: the record never entered the producer's queue."""
    kind = type(exc).__name__
    if isinstance(exc, ProducerClosed):
        return Fault(PRODUCER_RECOVERING, replace_producer=False, kind=kind)
    if isinstance(exc, KafkaTimeoutError):
        return Fault(KAFKA_TIMEOUT, replace_producer=False, kind=kind)
    if isinstance(exc, _AUTHORIZATION):
        return Fault(NOT_AUTHORIZED, replace_producer=False, kind=kind)
    # Anything else (a KafkaError such as MessageSizeTooLargeError, or a non-Kafka error) also left no trace.
    return Fault(KAFKA_REFUSED, replace_producer=False, kind=kind)


def on_delivery(exc: BaseException) -> Fault:
    """A queued record's future failed: its partition's sequence has a gap, whatever the error says."""
    kind = type(exc).__name__
    if isinstance(exc, _AUTHORIZATION):
        # Still replaced (the sequence gap is real), but counted apart: a new producer will be refused too.
        return Fault(NOT_AUTHORIZED, replace_producer=True, kind=kind)
    return Fault(PRODUCER_REPLACED, replace_producer=True, kind=kind)


def on_transaction(exc: BaseException) -> Fault:
    """`begin/commit/abort_transaction` failed, or a transaction was abandoned (deadline, cancellation)."""
    return on_delivery(exc)


def on_start(exc: BaseException) -> Fault:
    """A producer could not start (no broker, no producer id yet): nothing to replace, retried with back-off."""
    return Fault(PRODUCER_RECOVERING, replace_producer=False, kind=type(exc).__name__)


# Delays between attempts to start a new producer. The cap bounds how long after the broker is back the
# collector may still be without a producer; it is kept well under the 15 s in which 200s must resume (issue 10).
PRODUCER_BACKOFF = Backoff(first_s=0.25, max_s=4.0)
