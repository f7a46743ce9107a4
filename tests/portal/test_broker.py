"""A real Celery worker process takes a real task from the configured broker, end to end.

Runs on whatever broker CELERY_BROKER_URL names (the filesystem transport under var/ by default,
Redis in CI), against the test database, which the worker reaches through DATABASE_URL.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from partners import services
from portal.celery import app as celery_app
from tests import factories
from tests.conftest import database_url

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.broker


@pytest.fixture
def worker(areas_after_flush, tmp_path):
    """A worker process on a queue of its own, so a running `make run` cannot take our tasks."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    mail_dir = tmp_path / "mail"
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed in the finally below
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "1",
        "DATABASE_URL": database_url(connection.settings_dict),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            "1",
            "--pool",
            "solo",
            "-l",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield mail_dir, process, tmp_path / "worker.log"
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


MESSAGE_END = "-" * 79


def _wait_for_mail(mail_dir: Path, process, log: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(mail_dir.glob("*.log")) if mail_dir.exists() else []
        # The file backend creates the file before it writes the message; the line of dashes
        # it writes after each message says the message is complete.
        if files and MESSAGE_END in (text := files[0].read_text()):
            return text
        if process.poll() is not None:
            pytest.fail(f"worker exited early:\n{log.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"the worker sent no email within {timeout} s; its log:\n{log.read_text()}")


def test_invitation_email_is_sent_by_a_real_worker(worker):
    mail_dir, process, log = worker
    owner = factories.UserFactory()
    partner = factories.make_partner(owner)

    invitation = services.invitation_create(
        partner=partner, actor=owner, email="new.member@example.test", role="staff"
    )

    message = _wait_for_mail(mail_dir, process, log)
    assert "To: new.member@example.test" in message
    assert str(invitation.token) in message
    assert partner.name in message
