from django.db import migrations

DECLINE_TEMPLATES = [
    (
        "already-covered",
        "Already covered",
        "Lokasi ini sudah terpantau oleh kamera yang aktif di dekatnya.",
        "This spot is already watched by an active camera nearby.",
    ),
    (
        "private-property",
        "Private property",
        "Lokasi berada di lahan pribadi; kamera kota hanya dipasang di ruang publik. "
        "Pemilik lahan dapat mengajukan diri sebagai mitra.",
        "The spot is on private land; city cameras go only in public space. The owner may "
        "apply as a partner.",
    ),
    (
        "no-mounting-point",
        "No mounting point",
        "Tidak ada tiang, bangunan, listrik atau jaringan yang dapat dipakai di lokasi ini.",
        "There is no pole, building, power or network that can be used at this spot.",
    ),
    (
        "lower-priority",
        "Lower priority this year",
        "Wilayah lain dengan tingkat kerawanan lebih tinggi didahulukan tahun ini. "
        "Permintaan dapat diajukan kembali.",
        "Areas with a higher crime risk come first this year. You may ask again.",
    ),
    (
        "not-enough-detail",
        "Not enough detail",
        "Keterangan belum cukup untuk menilai kebutuhan kamera di lokasi ini.",
        "The description does not say enough to assess the need for a camera here.",
    ),
]


def add_templates(apps, schema_editor):
    template = apps.get_model("sites", "DeclineTemplate")
    for code, title, body_id, body_en in DECLINE_TEMPLATES:
        template.objects.update_or_create(
            code=code, defaults={"title": title, "body_id": body_id, "body_en": body_en}
        )


def remove_templates(apps, schema_editor):
    apps.get_model("sites", "DeclineTemplate").objects.filter(
        code__in=[row[0] for row in DECLINE_TEMPLATES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("sites", "0013_requests_append_only")]

    operations = [
        migrations.RunPython(add_templates, remove_templates),
    ]
