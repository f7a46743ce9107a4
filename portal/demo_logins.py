"""The demo logins, importable before Django is set up (the launcher prints them)."""

DEMO_PASSWORD = "demo-password-2026"

# (username, what the login shows) — printed by `make run` and listed in the README.
DEMO_USERS = [
    ("admin", "superuser (Django admin)"),
    ("reviewer", "Kominfotik officer: technical reviewer"),
    ("legal", "Kominfotik officer: legal reviewer"),
    ("approver", "Kominfotik officer: approver"),
    ("sudin.barat", "Sudin officer, Jakarta Barat only"),
    ("operator", "NOC operator"),
    ("warga", "resident"),
    ("budi.toko", "owner of PT Toko Sejahtera Abadi (business, verified)"),
    ("sari.toko", "staff of PT Toko Sejahtera Abadi"),
    ("tiang.owner", "owner of PT Tiang Nusantara Jaya (pole owner, verified)"),
    ("teknisi.tiang", "technician of PT Tiang Nusantara Jaya"),
    ("griya.owner", "owner of PT Griya Kencana Properti (developer, registered)"),
    ("rw05.ketua", "owner of RW 05 Kembangan Utara (community group)"),
]
