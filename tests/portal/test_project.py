"""The project as an operator deploys it: settings from the environment, migrations, lint."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from tests.conftest import database_url

BASE_DIR = Path(__file__).resolve().parents[2]


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "DATABASE_URL"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _production_env() -> dict:
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "cctv.jakarta.go.id",
        "DATABASE_URL": database_url(connection.settings_dict),
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def test_check_deploy_passes_with_production_environment(db):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "FIELD_ENCRYPTION_KEYS"]
)
def test_settings_refuse_to_start_without_required_variable(db, missing):
    env = _production_env()
    env[missing] = ""
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("EMAIL_PORT", "twenty-five", "EMAIL_PORT must be an integer"),
        ("FIELD_ENCRYPTION_KEYS", "not-a-key", "FIELD_ENCRYPTION_KEYS must hold Fernet keys"),
    ],
)
def test_settings_name_the_variable_with_a_malformed_value(db, name, value, message):
    result = _manage("check", env={**_production_env(), name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_migrations_match_models(db):
    env = {"DEBUG": "1", "DATABASE_URL": database_url(connection.settings_dict)}
    result = _manage("makemigrations", "--check", "--dry-run", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff_finds_nothing(command):
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), *command], cwd=BASE_DIR, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_documents_every_environment_variable():
    source = "\n".join(p.read_text() for p in (BASE_DIR / "portal").glob("*.py"))
    names = set(re.findall(r'env_(?:str|bool|int|list|choice)\("([A-Z_]+)"', source))
    names |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', source))
    readme = (BASE_DIR / "README.md").read_text()
    undocumented = sorted(name for name in names if f"`{name}`" not in readme)
    assert names, "no environment variables found: the pattern is out of date"
    assert undocumented == []
