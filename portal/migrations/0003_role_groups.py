from django.db import migrations

# The city-wide roles as they stood when this migration was written (portal.roles.Role).
ROLE_GROUPS = [
    "officer_reviewer",
    "officer_legal",
    "officer_approver",
    "sudin_officer",
    "operator",
    "resident",
]


def create_role_groups(apps, schema_editor):
    group_model = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        group_model.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0002_user_relations"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
