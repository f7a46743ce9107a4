from django.db import migrations

from portal.audit import AppendOnly


class Migration(migrations.Migration):
    dependencies = [("sites", "0012_coverage_requests")]

    operations = [AppendOnly("sites_requeststatuschange")]
