"""The pieces both benchmarks share (loadtests/common.py): the collector's settings, the py-spy tables and where
results are kept."""

from __future__ import annotations

from datetime import UTC, datetime

from loadtests.common import PII_SECRET, RESULTS, collector_env, profile_tables, result_path


def test_collector_env_names_the_topics_the_port_and_one_key_per_app() -> None:
    env = collector_env("127.0.0.1:19092", "t.events", "t.dead", 18080, {"app00": "wk_a", "app01": "wk_b"})
    assert env == {
        "LOG_LEVEL": "WARNING",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092",
        "KAFKA_EVENTS_TOPIC": "t.events",
        "KAFKA_DEADLETTER_TOPIC": "t.dead",
        "COLLECTOR_HOST": "127.0.0.1",
        "COLLECTOR_PORT": "18080",
        "COLLECTOR_WRITE_KEYS": "app00:wk_a,app01:wk_b",
        "PII_HASH_SECRET": PII_SECRET,
    }


def test_profile_tables_are_three_tables_each_followed_by_a_blank_line() -> None:
    profile = {"self": [("f (a.py)", 12.5)], "inclusive": [("g (b.py)", 40.0)], "self_by_package": [("a", 12.5)]}
    assert profile_tables(profile) == (
        "| function (self time) | % |\n|---|---|\n| f (a.py) | 12.50 |\n\n"
        "| function (inclusive) | % |\n|---|---|\n| g (b.py) | 40.00 |\n\n"
        "| self time by package/module | % |\n|---|---|\n| a | 12.50 |\n"
    )


def test_result_paths_of_the_same_day_differ_by_the_second_they_were_written() -> None:
    # An A/B at 06:56 and a profile at 07:05 of the same day used to share stream-2026-12-03.json.
    first = result_path("stream", ".json", datetime(2026, 12, 3, 6, 56, 52, tzinfo=UTC))
    later = result_path("stream", ".json", datetime(2026, 12, 3, 7, 5, 3, tzinfo=UTC))
    assert first == RESULTS / "stream-2026-12-03T065652Z.json"
    assert later == RESULTS / "stream-2026-12-03T070503Z.json"
    assert result_path("profile-collector-this tree", ".txt", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)).name == (
        "profile-collector-this tree-2026-01-02T030405Z.txt"
    )
