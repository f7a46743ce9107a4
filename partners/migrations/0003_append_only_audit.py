from django.db import migrations

from portal.audit import AppendOnly


class Migration(migrations.Migration):
    dependencies = [("partners", "0002_partner_relations")]

    operations = [
        AppendOnly("partners_partnerstatuschange"),
        AppendOnly("partners_cameranetworkstatuschange"),
    ]
