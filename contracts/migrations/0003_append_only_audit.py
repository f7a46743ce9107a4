from django.db import migrations

from portal.audit import AppendOnly


class Migration(migrations.Migration):
    dependencies = [("contracts", "0002_relations")]

    operations = [
        AppendOnly("contracts_programmestatuschange"),
        AppendOnly("contracts_applicationdecision"),
    ]
