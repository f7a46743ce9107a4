from django.db import migrations


class Migration(migrations.Migration):
    """Every sweep rewrites every camera's health row: leave room in each page so PostgreSQL can
    update rows in place (HOT updates) instead of touching the indexes each time."""

    dependencies = [("sites", "0006_health_append_only")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE sites_camerahealth SET (fillfactor = 60)",
            reverse_sql="ALTER TABLE sites_camerahealth RESET (fillfactor)",
        )
    ]
