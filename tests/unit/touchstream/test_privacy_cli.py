"""`touchstream privacy`: arguments to the call it makes (the call itself is the collector's, tested there)."""

from __future__ import annotations

import argparse

import orjson
import pytest

from touchstream.privacy_cli import add_parser, main, request_of, subjects_of


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["privacy", *argv, "--admin-key", "ak_0123456789"])


def test_delete_sends_the_subjects_and_the_client_request_id() -> None:
    method, path, body = request_of(parse("delete", "phone=138 0013 8000", "openid=o1", "--client-request-id", "t1"))
    assert (method, path) == ("POST", "/v1/privacy/requests")
    assert orjson.loads(body or b"") == {
        "type": "delete", "client_request_id": "t1",
        "subjects": [{"id_type": "phone", "value": "138 0013 8000"}, {"id_type": "openid", "value": "o1"}],
    }


def test_suppress_and_delete_status_and_cancel() -> None:
    assert orjson.loads(request_of(parse("suppress", "user_id=u1", "--and-delete"))[2] or b"")["type"] == (
        "suppress_and_delete")
    assert request_of(parse("status", "pr_1")) == ("GET", "/v1/privacy/requests/pr_1", None)
    assert request_of(parse("cancel", "pr_1")) == ("DELETE", "/v1/privacy/requests/pr_1", None)


@pytest.mark.parametrize("item", ["email=a@b", "phone", "phone="])
def test_a_bad_subject_is_named(item: str) -> None:
    with pytest.raises(ValueError, match="id_type=value"):
        subjects_of([item])


def test_without_an_admin_key_nothing_is_sent(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("status", "pr_1")
    args.admin_key = ""
    assert main(args) == 2
    assert "TOUCHSTREAM_ADMIN_KEY" in capsys.readouterr().err
