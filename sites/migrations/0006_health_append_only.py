from django.db import migrations

from portal.audit import AppendOnly


class Migration(migrations.Migration):
    dependencies = [("sites", "0005_health")]

    operations = [AppendOnly("sites_camerastatuschange")]
