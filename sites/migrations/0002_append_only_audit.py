from django.db import migrations

from portal.audit import AppendOnly


class Migration(migrations.Migration):
    dependencies = [("sites", "0001_initial")]

    operations = [AppendOnly("sites_rawanlevelchange")]
