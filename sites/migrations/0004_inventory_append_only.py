from django.db import migrations

from portal.audit import AppendOnly


class Migration(migrations.Migration):
    dependencies = [("sites", "0003_inventory")]

    operations = [AppendOnly("sites_sitestatuschange")]
