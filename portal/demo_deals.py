"""Demo programmes and hosting applications in every state, made through the real services.

Every step below is what the people in the demo would do in the portal, so the history pages show
real decisions by real demo users.
"""

from datetime import date

from contracts import services as deals
from contracts.models import HostingApplication, Programme
from partners.models import Partner
from sites.models import Area, HostKind, UtilityPole

_PROGRAMMES = [
    # (title, target kelurahan codes, camera target, steps to take)
    (
        "Pasar Aman Jakarta Pusat 2027",
        ["31.71.01.1001", "31.71.05.1002"],
        120,
        ["submit", "approve", "activate"],
    ),
    (
        "Pelabuhan dan Pesisir Jakarta Utara",
        ["31.72.01.1001", "31.72.04.1002"],
        200,
        ["submit", "approve"],
    ),
    ("Koridor Anti-Tawuran Jakarta Timur", ["31.75.01.1001", "31.75.03.1002"], 150, ["submit"]),
    ("Perumahan Aman Jakarta Barat", ["31.73.01.1001", "31.73.05.1003"], 80, []),
]

# (title, status to reach, kelurahan codes of its sites, on a pole?)
_APPLICATIONS = [
    ("Kamera depan toko Pasar Baru", "draft", ["31.71.01.1001"], False),
    ("Dua titik di Cempaka Putih", "submitted", ["31.71.05.1002"], False),
    ("Tiang di jalan utama Penjaringan", "technical_review", ["31.72.01.1001"], True),
    ("Gerbang kompleks Koja", "legal_review", ["31.72.04.1002"], False),
    ("Koridor pertokoan Kembangan", "approved", ["31.73.01.1001", "31.73.05.1003"], False),
    ("Halaman parkir Jatinegara", "rejected", ["31.75.01.1001"], False),
    ("Teras ruko Kramat Jati", "withdrawn", ["31.75.03.1002"], False),
    ("Atap gedung Tebet (dikembalikan)", "returned", ["31.74.01.1001"], False),
]


def _programme_step(programme: Programme, step: str, *, drafter, approver) -> None:
    if step == "submit":
        deals.programme_submit(programme=programme, actor=drafter)
    elif step == "approve":
        deals.programme_approve(programme=programme, actor=approver, reason="Demo: budget agreed.")
    elif step == "activate":
        deals.programme_activate(programme=programme, actor=approver)


def seed_programmes(*, drafter, approver) -> None:
    if Programme.objects.exists():
        return
    for title, codes, target, steps in _PROGRAMMES:
        programme = deals.programme_create(
            actor=drafter,
            title=title,
            rationale="Demo: kelurahan marked rawan by Kominfotik after police reports.",
            target_kelurahan=list(Area.objects.filter(code__in=codes)),
            camera_target=target,
            period_start=date(2027, 1, 1),
            period_end=date(2027, 12, 31),
            budget={"apbd": target * 15_000_000, "csr": target * 5_000_000, "in_kind": 0},
        )
        for step in steps:
            _programme_step(programme, step, drafter=drafter, approver=approver)


def _add_sites(application, *, codes: list[str], on_pole: bool, actor) -> None:
    for index, code in enumerate(codes):
        area = Area.objects.get(code=code)
        if on_pole:
            pole = UtilityPole.objects.filter(code__startswith="TNJ-S", slots_used=0).first()
            deals.application_add_site(
                application=application,
                actor=actor,
                lat=pole.lat,
                lon=pole.lon,
                address=f"Tiang {pole.code}",
                host_kind=HostKind.POLE,
                pole=pole,
                cameras_planned=1,
            )
            continue
        deals.application_add_site(
            application=application,
            actor=actor,
            lat=area.lat,
            lon=area.lon,
            address=f"Jl. Demo No. {index + 1}, {area.name}",
            host_kind=HostKind.BUILDING,
            cameras_planned=2,
            viewing_direction=90,
        )


def seed_applications(*, applicant_user, pole_owner_user, reviewer, approver) -> None:
    if HostingApplication.objects.exists():
        return
    applicant = Partner.objects.get(name="PT Toko Sejahtera Abadi")
    programme = Programme.objects.filter(status="active").first()
    for title, target, codes, on_pole in _APPLICATIONS:
        application = deals.application_create(
            applicant=applicant,
            actor=applicant_user,
            title=title,
            programme=programme,
            maintenance_commitment="Demo: our technician answers within 24 hours, repairs within "
            "72 hours, inspects monthly.",
            cofunding_cash=25_000_000,
            cofunding_in_kind=10_000_000,
        )
        _add_sites(application, codes=codes, on_pole=on_pole, actor=applicant_user)
        if on_pole:
            entry = application.candidate_sites.get()
            deals.pole_consent_accept(entry=entry, actor=pole_owner_user, comment="Demo: ok.")
        _advance(
            application, target, applicant_user=applicant_user, reviewer=reviewer, approver=approver
        )


def _advance(application, target: str, *, applicant_user, reviewer, approver) -> None:
    if target == "draft":
        return
    if target == "withdrawn":
        deals.application_withdraw(
            application=application,
            actor=applicant_user,
            comment="Demo: we found another location.",
        )
        return
    deals.application_submit(application=application, actor=applicant_user)
    if target == "submitted":
        return
    if target == "returned":
        deals.application_return(
            application=application, actor=reviewer, template="location-unclear"
        )
        return
    deals.application_start_review(application=application, actor=reviewer)
    if target == "rejected":
        deals.application_reject(
            application=application, actor=reviewer, template="outside-priority"
        )
        return
    if target == "technical_review":
        return
    deals.application_finish_technical_review(application=application, actor=reviewer)
    if target == "legal_review":
        return
    deals.application_approve(
        application=application, actor=approver, comment="Demo: approved; contract to follow."
    )
