"""The pieces both benchmarks share (loadtests/common.py): the collector's settings and the py-spy tables."""

from __future__ import annotations

from loadtests.common import PII_SECRET, collector_env, profile_tables


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
