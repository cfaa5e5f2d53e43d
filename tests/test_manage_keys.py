"""manage.py api-keys: create (the key alone on the last line), list, revoke."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from api.keys import find_key
from forecasting.data.database import make_engine
from manage import cli
from tests import services


@pytest.fixture
def run(tmp_path):
    url = services.migrated(f"sqlite:///{tmp_path / 'keys.db'}")

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})

    invoke.engine = make_engine(url)
    return invoke


def test_create_prints_the_key_once_on_the_last_line(run):
    created = run("api-keys", "create", "--scope", "write", "--name", "dashboard")
    assert created.exit_code == 0, created.output
    token = created.output.splitlines()[-1]
    assert token.startswith("fk_") and len(token) == 46 and " " not in token
    key = find_key(run.engine, token)
    assert key is not None and key.name == "dashboard" and key.scope == "write"
    listed = run("api-keys", "list")
    assert "dashboard" in listed.output and key.prefix in listed.output and "write" in listed.output
    assert token not in listed.output


def test_revoke_by_name_or_id(run):
    first = run("api-keys", "create", "--name", "one").output.splitlines()[-1]
    second = run("api-keys", "create", "--name", "two", "--scope", "admin").output.splitlines()[-1]
    assert run("api-keys", "revoke", "one").exit_code == 0
    assert run("api-keys", "revoke", str(find_key(run.engine, second).id)).exit_code == 0
    assert find_key(run.engine, first) is None and find_key(run.engine, second) is None
    assert run("api-keys", "list").output.count("revoked") == 1  # the header; each row shows its time
    assert "T" in run("api-keys", "list").output.splitlines()[1].split()[-1]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("api-keys", "revoke", "nobody"), "No key has the name or id 'nobody'"),
        (("api-keys", "create", "--name", "x", "--scope", "root"), "Invalid value for '--scope'"),
        (("api-keys", "create", "--name", "123"), "not only digits"),
    ],
)
def test_bad_key_commands_fail_saying_why(run, args, needle):
    result = run(*args)
    assert result.exit_code != 0
    assert needle in result.output


def test_a_name_is_used_once(run):
    assert run("api-keys", "create", "--name", "ci").exit_code == 0
    again = run("api-keys", "create", "--name", "ci")
    assert again.exit_code == 1 and "exists already" in again.output
