"""Camera health rows are rewritten by every sweep: make those rewrites HOT updates.

fillfactor 50 leaves room on each page for the new row version, and status gets a plain btree
instead of the default pair (btree + varchar_pattern_ops) nobody queries with LIKE.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0018_fill_request_priority"),
    ]

    operations = [
        migrations.AlterField(
            model_name="camerahealth",
            name="status",
            field=models.CharField(
                choices=[
                    ("unknown", "Unknown"),
                    ("up", "Up"),
                    ("degraded", "Degraded"),
                    ("down", "Down"),
                    ("maintenance", "In maintenance"),
                    ("upstream_down", "Upstream down"),
                ],
                default="unknown",
                max_length=16,
                verbose_name="status",
            ),
        ),
        migrations.AddIndex(
            model_name="camerahealth",
            index=models.Index(fields=["status"], name="camerahealth_status"),
        ),
        migrations.RunSQL(
            "ALTER TABLE sites_camerahealth SET (fillfactor = 50)",
            reverse_sql="ALTER TABLE sites_camerahealth RESET (fillfactor)",
        ),
    ]
