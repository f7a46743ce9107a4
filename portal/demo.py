"""Invented demo data: partners of every kind and one user per role. Never real companies."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from partners import services as partner_services
from partners.models import MemberRole, Membership, Partner, PartnerKind, PartnerStatus
from portal.demo_contracts import seed_contracts
from portal.demo_deals import seed_applications, seed_programmes
from portal.demo_fleet import seed_fleet
from portal.demo_logins import DEMO_PASSWORD
from portal.roles import Role, ensure_role_groups
from sites.models import Area
from sites.services import area_set_rawan

_ROLE_OF = {
    "reviewer": Role.OFFICER_REVIEWER,
    "legal": Role.OFFICER_LEGAL,
    "approver": Role.OFFICER_APPROVER,
    "sudin.barat": Role.SUDIN_OFFICER,
    "operator": Role.OPERATOR,
    "warga": Role.RESIDENT,
}

_PARTNERS = [
    # (owner, kind, name, identity, kelurahan code, status, other members)
    (
        "budi.toko",
        PartnerKind.BUSINESS,
        "PT Toko Sejahtera Abadi",
        {
            "legal_name": "PT Toko Sejahtera Abadi",
            "nib": "9120001234567",
            "npwp": "0123456789012345",
        },
        "31.71.01.1001",
        PartnerStatus.VERIFIED,
        [("sari.toko", MemberRole.STAFF)],
    ),
    (
        "tiang.owner",
        PartnerKind.POLE_OWNER,
        "PT Tiang Nusantara Jaya",
        {
            "legal_name": "PT Tiang Nusantara Jaya",
            "nib": "9120007654321",
            "npwp": "0987654321098765",
        },
        "31.74.01.1001",
        PartnerStatus.VERIFIED,
        [("teknisi.tiang", MemberRole.TECHNICIAN)],
    ),
    (
        "griya.owner",
        PartnerKind.DEVELOPER,
        "PT Griya Kencana Properti",
        {
            "legal_name": "PT Griya Kencana Properti",
            "nib": "9120001112223",
            "npwp": "1122334455667788",
        },
        "31.75.01.1001",
        PartnerStatus.REGISTERED,
        [],
    ),
    (
        "rw05.ketua",
        PartnerKind.COMMUNITY,
        "RW 05 Kembangan Utara",
        {
            "community_type": "rt_rw",
            "rt_number": "",
            "rw_number": "005",
            "sk_number": "SK-LRH/KBU/2026/014",
        },
        "31.73.01.1001",
        PartnerStatus.VERIFIED,
        [],
    ),
]


def _user(username: str):
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=username,
        defaults={
            "email": f"{username}@demo.mitra-cctv.test",
            "full_name": username.replace(".", " ").title(),
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def seed_demo() -> None:
    """Create what is missing; running it again changes nothing."""
    if not settings.DEBUG:
        raise RuntimeError("Demo data (with known passwords) is only created with DEBUG on.")
    ensure_role_groups()
    admin = _user("admin")
    if not admin.is_superuser:
        admin.is_superuser = admin.is_staff = True
        admin.save(update_fields=["is_superuser", "is_staff"])
    for username, role in _ROLE_OF.items():
        user = _user(username)
        user.groups.add(Group.objects.get(name=role))
    sudin = _user("sudin.barat")
    if sudin.kota_id is None:
        sudin.kota = Area.objects.get(code="31.73")
        sudin.save(update_fields=["kota"])
    approver = _user("approver")
    for owner, kind, name, identity, kelurahan, status, members in _PARTNERS:
        if Partner.objects.filter(name=name).exists():
            continue
        partner = partner_services.partner_register(
            user=_user(owner),
            kind=kind,
            name=name,
            kelurahan=Area.objects.get(code=kelurahan),
            address=f"Jl. Contoh No. {len(name)}, Jakarta",
            contact_name=owner.title(),
            contact_email=f"{owner}@demo.mitra-cctv.test",
            contact_phone="+6221555010",
            **identity,
        )
        for member, role in members:
            if not Membership.objects.filter(partner=partner, user=_user(member)).exists():
                partner_services.membership_add(partner=partner, user=_user(member), role=role)
        if status == PartnerStatus.VERIFIED:
            partner_services.partner_verify(
                partner=partner, actor=approver, reason="Demo: documents checked."
            )
        _seed_networks(partner, owner=_user(owner), approver=approver, verified=status)
    _seed_rawan(approver)
    seed_fleet(actor=approver)
    seed_programmes(drafter=_user("reviewer"), approver=approver)
    seed_applications(
        applicant_user=_user("budi.toko"),
        pole_owner_user=_user("tiang.owner"),
        reviewer=_user("reviewer"),
        approver=approver,
    )
    seed_contracts(drafter=_user("reviewer"), legal=_user("legal"), approver=approver)


# Camera networks per demo partner: (CIDR, ports, approved?). Private ranges only; the /16s
# hold the baseline fleet of portal.demo_fleet.
_NETWORKS = {
    "PT Toko Sejahtera Abadi": [("10.71.0.0/16", [80, 554], True)],
    "PT Tiang Nusantara Jaya": [
        ("10.74.0.0/16", [80, 554, 8000], True),
        ("10.75.8.0/24", [554], False),
    ],
    "RW 05 Kembangan Utara": [("10.73.0.0/16", [80, 554], True)],
}

# Kelurahan an officer has marked rawan in the demo: (code, level, reason).
_RAWAN = [
    ("31.71.01.1001", 3, "Demo: street crime reports along the market."),
    ("31.71.05.1002", 2, "Demo: repeated motorbike theft."),
    ("31.72.01.1001", 3, "Demo: port area, night-time robberies."),
    ("31.72.04.1002", 2, "Demo: brawls (tawuran) between neighbourhoods."),
    ("31.73.01.1001", 2, "Demo: burglaries in housing blocks."),
    ("31.73.05.1003", 1, "Demo: petty theft at the station."),
    ("31.74.01.1001", 1, "Demo: vehicle break-ins."),
    ("31.74.06.1004", 2, "Demo: snatch theft on the main road."),
    ("31.75.01.1001", 3, "Demo: tawuran hot spot."),
    ("31.75.03.1002", 2, "Demo: robberies near the terminal."),
]


def _seed_rawan(approver) -> None:
    for code, level, reason in _RAWAN:
        area = Area.objects.filter(code=code, rawan_set_at__isnull=True).first()
        if area is not None:
            area_set_rawan(area=area, actor=approver, level=level, reason=reason)


def _seed_networks(partner, *, owner, approver, verified) -> None:
    for cidr, ports, approve in _NETWORKS.get(partner.name, []):
        network = partner_services.network_request(
            partner=partner, actor=owner, cidr=cidr, ports=ports, description="Demo network"
        )
        if approve and verified == PartnerStatus.VERIFIED:
            partner_services.network_approve(network=network, actor=approver)
