from django.db import migrations

# Common reasons officers give, so a return or rejection reads the same every time.
TEMPLATES = [
    (
        "missing-documents",
        "Missing documents",
        "Dokumen pendukung belum lengkap. Mohon lampirkan dokumen yang diminta lalu ajukan kembali.",
        "Supporting documents are incomplete. Please attach the requested documents and resubmit.",
    ),
    (
        "location-unclear",
        "Location unclear",
        "Lokasi calon titik kamera belum jelas. Mohon perbaiki titik pada peta dan alamatnya.",
        "The candidate site's location is unclear. Please correct the map pin and the address.",
    ),
    (
        "pole-not-accepted",
        "Pole owner has not accepted",
        "Pemilik tiang belum menyetujui pemasangan. Mohon hubungi pemilik tiang atau pilih lokasi lain.",
        "The pole owner has not accepted the attachment. Please contact the owner or choose "
        "another location.",
    ),
    (
        "outside-priority",
        "Outside priority areas",
        "Lokasi berada di luar kawasan prioritas program saat ini.",
        "The location lies outside the current programme's priority areas.",
    ),
    (
        "insufficient-funding",
        "Co-funding insufficient",
        "Komitmen pendanaan bersama belum mencukupi untuk jumlah kamera yang diajukan.",
        "The co-funding offered does not cover the number of cameras requested.",
    ),
    (
        "maintenance-unclear",
        "Maintenance commitment unclear",
        "Komitmen pemeliharaan belum jelas: sebutkan pihak yang bertanggung jawab dan waktu respons.",
        "The maintenance commitment is unclear: name who is responsible and the response times.",
    ),
]


def create_templates(apps, schema_editor):
    template_model = apps.get_model("contracts", "ResponseTemplate")
    for code, title, body_id, body_en in TEMPLATES:
        template_model.objects.get_or_create(
            code=code, defaults={"title": title, "body_id": body_id, "body_en": body_en}
        )


class Migration(migrations.Migration):
    dependencies = [("contracts", "0003_append_only_audit")]

    operations = [migrations.RunPython(create_templates, migrations.RunPython.noop)]
