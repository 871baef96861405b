"""Privacy requests in the processor's fold: the pure half (docs/privacy.md).

A request reaches the processor as a command record on the events topic, keyed by its app, so it is folded in
partition order with the app's events. At that point the engine forgets every person one of the subjects
belongs to (graph, touchpoints, open conversions, click claims): an event after the command starts a new
person instead of reviving the deleted journey. The stored rows are deleted afterwards by the shell
(stream/privacy_exec.py), once this range's rows are written, and only below the command's offset, so rows of
events that came after the command stay, whenever the delete runs (a replay included).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.records import PrivacyCommand
from stream.journeys.engine import AppEngine

DELETING = frozenset({"delete", "suppress_and_delete"})
SUPPRESSING = frozenset({"suppress", "suppress_and_delete"})


@dataclass(frozen=True, slots=True)
class PrivacyAction:
    """A command as folded: where it stood in the topic and the user keys the engine forgot."""

    command: PrivacyCommand
    partition: int
    offset: int
    forgotten: tuple[str, ...]


def fold_command(
    command: PrivacyCommand, engine: AppEngine | None, partition: int, offset: int
) -> PrivacyAction:
    """Forget the subjects' people in `engine` (for deleting types) and describe what the shell must do."""
    forgotten: list[str] = []
    if engine is not None and command["type"] in DELETING:
        for typed_id in command["subjects"]:
            user_key = engine.graph.key_of(typed_id)
            if user_key is not None and user_key not in forgotten:
                forgotten.append(user_key)
        for user_key in forgotten:
            engine.forget(user_key)
    return PrivacyAction(command, partition, offset, tuple(forgotten))
