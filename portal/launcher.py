"""What `make run` and `make test` do: prepare the database, then run the portal or the suite.

    python -m portal.launcher run     # migrate, load areas and demo data, web + worker + beat
    python -m portal.launcher test    # the whole test suite (extra arguments go to pytest)
    python -m portal.launcher stop-db # stop the embedded PostgreSQL

Without DATABASE_URL the embedded PostgreSQL under var/ is started, and stopped again at the end
if this command was the one that started it.
"""

import os
import signal
import subprocess
import sys
import time

from portal import embedded_db
from portal.demo_logins import DEMO_PASSWORD, DEMO_USERS

BASE_DIR = embedded_db.BASE_DIR
PYTHON = sys.executable


def _manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, check=True)


def _say(message: str) -> None:
    print(f"[mitra] {message}", flush=True)  # noqa: T201 - a command-line tool talks on stdout


def _prepare_environment() -> bool:
    """Fill in development defaults; return True when this call started the embedded database."""
    os.environ.setdefault("DEBUG", "1")
    if os.environ.get("DATABASE_URL"):
        return False
    was_running = embedded_db.is_running()
    embedded_db.ensure_running()
    return not was_running


def _setup_data() -> None:
    _manage("migrate", "--noinput", "-v", "0")
    _manage("load_areas")
    _manage("seed_demo")


def run() -> int:
    started_db = _prepare_environment()
    _setup_data()
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    commands = {
        "web": [PYTHON, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
        "worker": [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-l",
            "info",
            "--concurrency",
            os.environ.get("WORKER_CONCURRENCY", "2"),
        ],
        "beat": [PYTHON, "-m", "celery", "-A", "portal", "beat", "-l", "info"],
    }
    stopping = False

    def _stop(*_args):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    children: dict[str, subprocess.Popen] = {}
    exit_code = 0
    try:
        for name, cmd in commands.items():
            # Own process groups: Ctrl-C reaches only us, and we stop each child cleanly.
            children[name] = subprocess.Popen(cmd, cwd=BASE_DIR, start_new_session=True)
        _say(f"Portal running at http://{host}:{port}/  (API docs: /api/docs/)")
        _say(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, description in DEMO_USERS:
            _say(f"  {username:<20} {description}")
        _say("Press Ctrl-C to stop everything.")
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    _say(f"{name} exited with code {child.returncode}; stopping the rest.")
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.5)
    finally:
        _stop_children(children)
        if started_db:
            embedded_db.stop()
        _say("Stopped.")
    return exit_code


def _stop_children(children: dict[str, subprocess.Popen]) -> None:
    for child in children.values():
        if child.poll() is None:
            # Only the leader: Celery's warm shutdown stops its own pool processes.
            child.terminate()
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)


def test(pytest_args: list[str]) -> int:
    started_db = _prepare_environment()
    try:
        # Importing `portal` (for embedded_db) set DJANGO_SETTINGS_MODULE for Celery's sake;
        # pytest must take the test settings from pyproject.toml instead.
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        command = [PYTHON, "-m", "pytest", *pytest_args]
        return subprocess.run(command, cwd=BASE_DIR, env=env).returncode
    finally:
        if started_db:
            embedded_db.stop()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "stop-db"}:
        print(__doc__)  # noqa: T201
        return 2
    if argv[0] == "run":
        return run()
    if argv[0] == "test":
        return test(argv[1:])
    embedded_db.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
