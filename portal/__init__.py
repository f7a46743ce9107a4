# Load the Celery app whenever Django starts so that `delay_on_commit` uses the configured broker.
from portal.celery import app as celery_app

__all__ = ["celery_app"]
