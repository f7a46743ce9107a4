"""Close the upstream incidents still open from before incidents had owners.

The engine now opens and closes incidents per camera owner, so an open incident without an owner
would never close. Closing it is safe: at the next sweep, cameras still failing together open a
new incident for their owner; the others follow ordinary damping. The owner of an old incident is
not recorded anywhere and is not guessed.
"""

from django.db import migrations
from django.utils import timezone


def close_ownerless(apps, schema_editor):
    incidents = apps.get_model("sites", "UpstreamIncident")
    incidents.objects.filter(owner__isnull=True, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [("sites", "0009_heartbeat_keys_incident_owner")]

    operations = [migrations.RunPython(close_ownerless, migrations.RunPython.noop)]
