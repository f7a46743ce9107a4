from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("sites", "0010_close_ownerless_incidents")]

    operations = [
        migrations.AddConstraint(
            model_name="upstreamincident",
            constraint=models.UniqueConstraint(
                condition=models.Q(("ended_at__isnull", True)),
                fields=("owner", "pole", "segment"),
                name="incident_one_open_per_place",
                nulls_distinct=False,
            ),
        ),
    ]
