import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient

from tests import factories


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The Jakarta areas are reference data: load them once into the test database."""
    with django_db_blocker.unblock():
        call_command("load_areas", stdout=io.StringIO())


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached pages and map payloads never carry over from one test's data to the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def api_as(user) -> APIClient:
    """An authenticated client. Tests read messages in English; Indonesian is the default."""
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


@pytest.fixture
def owner(db):
    return factories.UserFactory()


@pytest.fixture
def partner(owner):
    return factories.make_partner(owner)


@pytest.fixture
def other_owner(db):
    return factories.UserFactory()


@pytest.fixture
def other_partner(other_owner):
    return factories.make_partner(other_owner)


@pytest.fixture
def approver(db):
    return factories.officer()


def pdf_upload(name: str = "akta.pdf", body: bytes = b"%PDF-1.7\n%test\n1 0 obj\n<<>>\nendobj\n"):
    return SimpleUploadedFile(name, body, content_type="application/pdf")


@pytest.fixture
def areas_after_flush(transactional_db):
    """Transactional tests truncate every table; put the reference areas back."""
    from sites.loaders import load_areas
    from sites.models import Area

    if not Area.objects.exists():
        load_areas()


def database_url(settings_dict: dict, name: str | None = None) -> str:
    """A DATABASE_URL for a child process (worker, manage.py) pointing at the given database."""
    from urllib.parse import quote

    host = quote(settings_dict["HOST"] or "localhost", safe="")
    password = f":{quote(settings_dict['PASSWORD'], safe='')}" if settings_dict["PASSWORD"] else ""
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return (
        f"postgres://{quote(settings_dict['USER'], safe='')}{password}@{host}{port}/"
        f"{name or settings_dict['NAME']}"
    )
