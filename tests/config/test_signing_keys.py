"""MODEL_SIGNING_KEYS: required in production, generated once and kept in development."""

import os
import stat
import subprocess
import sys

import pytest

from config.settings import ROOT, load_settings

LONG_KEY = "0123456789abcdef" * 4


def settings_from(env: dict[str, str]):
    return load_settings(environ=env, dotenv=None)


def test_development_makes_a_key_file_once_with_mode_0600_and_reuses_it(tmp_path):
    path = tmp_path / "var" / "model-signing.key"
    first = settings_from({"MODEL_SIGNING_KEY_FILE": str(path)})
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.signing_keys == (path.read_text().strip(),) and len(first.signing_keys[0]) == 64
    made = path.stat().st_mtime_ns
    second = settings_from({"MODEL_SIGNING_KEY_FILE": str(path)})
    assert second.signing_keys == first.signing_keys and path.stat().st_mtime_ns == made
    assert [p.name for p in path.parent.iterdir()] == ["model-signing.key"]  # no draft left behind


def test_another_checkout_gets_another_key(tmp_path):
    one = settings_from({"MODEL_SIGNING_KEY_FILE": str(tmp_path / "a.key")})
    two = settings_from({"MODEL_SIGNING_KEY_FILE": str(tmp_path / "b.key")})
    assert one.signing_keys != two.signing_keys


def test_keys_given_are_used_in_order_and_no_file_is_made(tmp_path):
    path = tmp_path / "model-signing.key"
    settings = settings_from({"MODEL_SIGNING_KEYS": " new key , old key,", "MODEL_SIGNING_KEY_FILE": str(path)})
    assert settings.signing_keys == ("new key", "old key")
    assert not path.exists()


def test_an_empty_key_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "model-signing.key"
    path.write_text("\n")
    with pytest.raises(ValueError, match="does not hold one signing key"):
        settings_from({"MODEL_SIGNING_KEY_FILE": str(path)})


def test_production_without_keys_refuses_naming_the_setting(tmp_path):
    path = tmp_path / "model-signing.key"
    with pytest.raises(ValueError, match="MODEL_SIGNING_KEYS must be set when ENV=production"):
        settings_from({"ENV": "production", "MODEL_SIGNING_KEY_FILE": str(path)})
    assert not path.exists()  # production never makes a key of its own


def test_production_refuses_a_short_key_and_takes_long_ones():
    with pytest.raises(ValueError, match="Each key in MODEL_SIGNING_KEYS must have at least 32 characters"):
        settings_from({"ENV": "production", "MODEL_SIGNING_KEYS": f"{LONG_KEY},short"})
    settings = settings_from({"ENV": "production", "MODEL_SIGNING_KEYS": f"{LONG_KEY},{LONG_KEY[::-1]}"})
    assert settings.signing_keys == (LONG_KEY, LONG_KEY[::-1])


def test_the_api_refuses_to_start_in_production_without_keys(monkeypatch, tmp_path):
    from api import create_app

    monkeypatch.delenv("MODEL_SIGNING_KEYS", raising=False)
    with pytest.raises(ValueError, match="MODEL_SIGNING_KEYS"):
        create_app({"ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("command", [["-c", "import workers.entry"], ["manage.py", "init-db"]],
                         ids=["worker", "manage"])
def test_workers_and_commands_refuse_to_start_in_production_without_keys(tmp_path, command):
    env = {k: v for k, v in os.environ.items() if k != "MODEL_SIGNING_KEYS"}
    env.update(ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", REDIS_URL="redis://127.0.0.1:1/0")
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "MODEL_SIGNING_KEYS must be set when ENV=production" in done.stderr
    assert not (tmp_path / "x.db").exists()


def test_processes_starting_together_agree_on_one_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "var" / "model-signing.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: settings_from({"MODEL_SIGNING_KEY_FILE": str(path)}).signing_keys, range(16)))
    assert keys == {(path.read_text().strip(),)}
    assert [p.name for p in path.parent.iterdir()] == ["model-signing.key"]
