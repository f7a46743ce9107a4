"""What `make run` and `make test` do: prepare the database, then run the portal or the suite.

    python -m portal.launcher run     # migrate, load areas and demo data; web, worker, beat and
                                      # the fleet simulator the demo cameras point at
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
from dataclasses import dataclass, field

from portal import embedded_db
from portal.demo_logins import DEMO_PASSWORD, DEMO_USERS
from portal.env import env_int

BASE_DIR = embedded_db.BASE_DIR
PYTHON = sys.executable
SIMULATOR_SEED = 2018


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


# The fleet simulator `make run` starts; the demo cameras (portal.demo_fleet) point at these ports.
DEFAULT_SIMULATOR_HTTP_PORT = 18080
DEFAULT_SIMULATOR_RTSP_PORT = 18554


def simulator_ports() -> tuple[int, int]:
    """(HTTP, RTSP) ports of the demo fleet simulator, from SIMULATOR_HTTP_PORT/_RTSP_PORT."""
    return (
        env_int("SIMULATOR_HTTP_PORT", DEFAULT_SIMULATOR_HTTP_PORT, minimum=1),
        env_int("SIMULATOR_RTSP_PORT", DEFAULT_SIMULATOR_RTSP_PORT, minimum=1),
    )


@dataclass(frozen=True)
class Child:
    """A process `make run` starts: its command line and what it adds to the environment."""

    command: list[str]
    env: dict[str, str] = field(default_factory=dict)


def build_commands(
    *, host: str, port: str, concurrency: str, cameras: int, http_port: int, rtsp_port: int
) -> dict[str, Child]:
    """The processes of `make run`: web, Celery worker and beat, and the fleet simulator."""
    # Only here may the checker reach loopback, where the simulator answers: the address policy
    # refuses it everywhere else (sites.health.policy).
    loopback = {"HEALTH_ALLOW_LOOPBACK": "1"}
    celery = [PYTHON, "-m", "celery", "-A", "portal"]
    return {
        "web": Child([PYTHON, "manage.py", "runserver", f"{host}:{port}", "--noreload"]),
        "worker": Child(
            [*celery, "worker", "-l", "info", "--concurrency", concurrency], env=loopback
        ),
        "beat": Child([*celery, "beat", "-l", "info"], env=loopback),
        "simulator": Child(
            [
                PYTHON,
                "manage.py",
                "simulate_fleet",
                "--cameras",
                str(cameras),
                "--seed",
                str(SIMULATOR_SEED),
                "--http-port",
                str(http_port),
                "--rtsp-port",
                str(rtsp_port),
            ]
        ),
    }


def _demo_camera_count() -> int:
    # The demo fleet's size lives beside its models; read it once Django is set up.
    import django

    django.setup()
    from portal.demo_fleet import DEMO_CAMERAS

    return DEMO_CAMERAS


def run() -> int:
    started_db = _prepare_environment()
    _setup_data()
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    http_port, rtsp_port = simulator_ports()
    cameras = _demo_camera_count()
    commands = build_commands(
        host=host,
        port=port,
        concurrency=os.environ.get("WORKER_CONCURRENCY", "2"),
        cameras=cameras,
        http_port=http_port,
        rtsp_port=rtsp_port,
    )
    stopping = False

    def _stop(*_args):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    children: dict[str, subprocess.Popen] = {}
    exit_code = 0
    try:
        for name, child in commands.items():
            # Own process groups: Ctrl-C reaches only us, and we stop each child cleanly.
            children[name] = subprocess.Popen(
                child.command,
                cwd=BASE_DIR,
                env={**os.environ, **child.env},
                start_new_session=True,
            )
        _say(f"Portal running at http://{host}:{port}/  (API docs: /api/docs/)")
        _say(
            f"Fleet simulator: {cameras} cameras on 127.1.x.y, "
            f"HTTP :{http_port}, RTSP :{rtsp_port}; fleet health at /health/"
        )
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
