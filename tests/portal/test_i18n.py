"""The portal speaks Bahasa Indonesia by default and English on request."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

PO_PATH = Path(settings.BASE_DIR) / "locale" / "id" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")

_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+"(.*)"$')
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)


def _po_entries() -> list[dict]:
    """A small .po reader: a fresh machine may have no gettext tools and no polib."""
    entries: list[dict] = []
    entry: dict = {"flags": set(), "fields": {}}
    field = None
    for raw in [*PO_PATH.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if line.startswith("#~"):  # obsolete entries are not used
            continue
        if not line or (line.startswith("#") and "msgid" in entry["fields"]):
            if "msgid" in entry["fields"]:
                entries.append(entry)
            entry, field = {"flags": set(), "fields": {}}, None
            if not line:
                continue
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif match := _KEYWORD.match(line):
            field = match.group(1)
            entry["fields"][field] = _unescape(match.group(2))
        elif line.startswith('"') and field:
            entry["fields"][field] += _unescape(line[1:-1])
    return entries


def _messages() -> list[dict]:
    return [entry for entry in _po_entries() if entry["fields"]["msgid"]]


def test_catalogue_has_every_message_translated():
    messages = _messages()
    assert len(messages) > 300  # the whole portal, not a stub
    untranslated = [
        entry["fields"]["msgid"]
        for entry in messages
        if not all(v.strip() for k, v in entry["fields"].items() if k.startswith("msgstr"))
    ]
    fuzzy = [entry["fields"]["msgid"] for entry in messages if "fuzzy" in entry["flags"]]
    assert untranslated == []
    assert fuzzy == []


def test_catalogue_header_is_final():
    header = next(entry for entry in _po_entries() if not entry["fields"]["msgid"])
    # A fuzzy header is left out of the compiled file, and with it the plural rule.
    assert "fuzzy" not in header["flags"]
    assert "Language: id\n" in header["fields"]["msgstr"]
    assert "Plural-Forms: nplurals=1; plural=0;" in header["fields"]["msgstr"]


def test_catalogue_keeps_every_placeholder():
    placeholder = re.compile(r"%\(\w+\)[-+ 0#]*\d*(?:\.\d+)?[sdf]|%[sd]|</?[a-z][^>]*>")
    broken = [
        entry["fields"]["msgid"]
        for entry in _messages()
        for key, value in entry["fields"].items()
        if key.startswith("msgstr")
        and sorted(placeholder.findall(value))
        != sorted(placeholder.findall(entry["fields"]["msgid"]))
    ]
    assert broken == []


def test_compiled_catalogue_matches_po():
    """Catches a .po edited without re-running compilemessages."""
    assert MO_PATH.exists()
    stale = []
    with translation.override("id"):
        for entry in _messages():
            fields = entry["fields"]
            if "msgctxt" in fields or "msgid_plural" in fields:
                continue
            if translation.gettext(fields["msgid"]) != fields["msgstr"]:
                stale.append(fields["msgid"])
    assert stale == []


@pytest.mark.parametrize(
    ("english", "indonesian"),
    [
        ("Partners", "Mitra"),
        ("Sign in", "Masuk"),
        ("Community group", "Kelompok masyarakat"),
        ("Utility-pole owner", "Pemilik tiang utilitas"),
        ("A partner with this NIB is already registered.", "Mitra dengan NIB ini sudah terdaftar."),
        (
            "This invitation was sent to another email address. Sign in as %(email)s.",
            "Undangan ini dikirim ke alamat email lain. Silakan masuk sebagai %(email)s.",
        ),
    ],
)
def test_gettext_answers_in_indonesian(english, indonesian):
    with translation.override("id"):
        assert translation.gettext(english) == indonesian
    with translation.override("en"):
        assert translation.gettext(english) == english


def test_gettext_plural_uses_the_single_indonesian_form():
    singular = "There was %(limit)s failed sign-in attempt for this account from your connection."
    plural = "There were %(limit)s failed sign-in attempts for this account from your connection."
    with translation.override("id"):
        for count in (1, 5):
            text = translation.ngettext(singular, plural, count) % {"limit": count}
            assert text.startswith(f"Terjadi {count} kali percobaan masuk yang gagal")


def test_home_page_is_indonesian_by_default(client, db):
    response = client.get(reverse("home"))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="id">' in html
    assert ">Beranda</a>" in html
    assert ">Masuk</a>" in html
    assert ">Home</a>" not in html


def test_home_page_switches_to_english(client, db):
    switched = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get(reverse("home"))

    html = response.content.decode()
    assert switched.status_code == 302
    assert '<html lang="en">' in html
    assert ">Home</a>" in html
    assert ">Sign in</a>" in html
    assert ">Beranda</a>" not in html
