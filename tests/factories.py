"""factory_boy factories. Partners are built through the real service so permissions exist."""

import itertools

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from partners import services as partner_services
from partners.models import PartnerKind
from portal.roles import Role
from sites.models import Area

_nib = itertools.count(1000000000000)
_npwp = itertools.count(1000000000000000)

PASSWORD = "correct-horse-battery-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or []:
            self.groups.add(Group.objects.get_or_create(name=role)[0])
        if create:
            self.save()


def officer(role: str = Role.OFFICER_APPROVER, **kwargs):
    return UserFactory(roles=[role], **kwargs)


def sudin_officer(kota_code: str, **kwargs):
    return UserFactory(roles=[Role.SUDIN_OFFICER], kota=Area.objects.get(code=kota_code), **kwargs)


def kelurahan(code: str = "31.71.01.1001") -> Area:
    return Area.objects.get(code=code)


def make_partner(
    owner=None, *, kind=PartnerKind.BUSINESS, kelurahan_code="31.71.01.1001", **overrides
):
    """A registered partner with `owner` (created if not given) as its owner member."""
    owner = owner or UserFactory()
    fields = {
        "kind": kind,
        "name": f"PT Contoh {next(_nib)}",
        "kelurahan": kelurahan(kelurahan_code),
        "address": "Jl. Contoh No. 1",
        "contact_name": "Contact Person",
        "contact_email": "contact@example.test",
        "contact_phone": "+62215550100",
    }
    if kind == PartnerKind.COMMUNITY:
        fields.update(
            community_type="rt_rw", rt_number="001", rw_number="005", sk_number="SK/001/2026"
        )
    else:
        fields.update(legal_name=fields["name"], nib=str(next(_nib)), npwp=str(next(_npwp)))
    fields.update(overrides)
    return partner_services.partner_register(user=owner, **fields)


# --- Camera inventory (sites) ---------------------------------------------------------------


def point_in(code: str = "31.71.01.1001") -> dict:
    """A point inside a kelurahan (its label point), as pole/site lat and lon."""
    area = kelurahan(code)
    return {"lat": area.lat, "lon": area.lon}


def verified_partner(owner=None, **kwargs):
    from partners.models import Partner

    partner = make_partner(owner, **kwargs)
    partner_services.partner_verify(partner=partner, actor=officer(), reason="Documents match.")
    return Partner.objects.get(pk=partner.pk)


def approved_network(partner, cidr: str = "10.20.30.0/24", ports=(554, 80, 443)):
    """A camera network of a verified `partner`, proposed by its first owner and approved."""
    network = partner_services.network_request(
        partner=partner, actor=partner.created_by, cidr=cidr, ports=list(ports)
    )
    return partner_services.network_approve(network=network, actor=officer(), reason="")


def make_pole(owner_partner, *, code: str | None = None, kelurahan_code="31.71.01.1001", **kw):
    from sites import services as site_services

    fields = {"slots_total": 2, **point_in(kelurahan_code), **kw}
    return site_services.pole_create(
        owner=owner_partner,
        actor=owner_partner.created_by,
        code=code or f"TN-{next(_nib)}",
        **fields,
    )


def make_site(host_partner, *, kelurahan_code="31.71.01.1001", actor=None, **kw):
    """A proposed site of `host_partner` (on `pole=` when given)."""
    from sites import services as site_services
    from sites.models import HostKind

    fields = {
        "address": "Jl. Medan Merdeka Barat No. 9",
        "host_kind": HostKind.POLE if kw.get("pole") else HostKind.BUILDING,
        **point_in(kelurahan_code),
        **kw,
    }
    return site_services.site_propose(
        host_partner=host_partner, actor=actor or host_partner.created_by, **fields
    )


# --- Deal pipeline (contracts) --------------------------------------------------------------


def make_programme(actor=None, *, status: str = "draft", kelurahan_codes=("31.71.01.1001",), **kw):
    """A programme drafted by `actor` (a city officer by default), moved on to `status`."""
    from datetime import date

    from contracts import services as contract_services

    actor = actor or officer(Role.OFFICER_REVIEWER)
    fields = {
        "title": "Kamera kawasan rawan",
        "rationale": "Crime reports rose in these kelurahan.",
        "target_kelurahan": list(kelurahan_codes),
        "camera_target": 40,
        "period_start": date(2026, 1, 1),
        "period_end": date(2026, 12, 31),
        "budget": {"apbd": 500_000_000, "csr": 250_000_000},
        **kw,
    }
    programme = contract_services.programme_create(actor=actor, **fields)
    steps = ["submitted", "approved", "active", "closed"]
    if status in steps:
        contract_services.programme_submit(programme=programme, actor=actor)
    if status in steps[1:]:
        contract_services.programme_approve(programme=programme, actor=officer())
    if status in steps[2:]:
        contract_services.programme_activate(programme=programme, actor=actor)
    if status == "closed":
        contract_services.programme_close(programme=programme, actor=actor)
    return programme


def make_application(
    applicant, *, actor=None, sites: int = 1, kelurahan_code="31.71.01.1001", **kw
):
    """A draft hosting application of a verified `applicant` with `sites` building sites."""
    from contracts import services as contract_services
    from sites.models import HostKind

    actor = actor or applicant.created_by
    fields = {"title": "Kamera di depan toko", "maintenance_commitment": "Repairs in 48 h.", **kw}
    application = contract_services.application_create(applicant=applicant, actor=actor, **fields)
    for number in range(sites):
        contract_services.application_add_site(
            application=application,
            actor=actor,
            address=f"Jl. Contoh No. {number + 1}",
            host_kind=HostKind.BUILDING,
            cameras_planned=2,
            **point_in(kelurahan_code),
        )
    application.refresh_from_db()
    return application


def inventory_rows(partner, officer_user) -> dict:
    """One pole, site (approved, on the pole), camera and site status change, keyed by label.

    `partner` must be verified; it hosts the site and owns the camera.
    """
    from sites import services as site_services

    pole = make_pole(make_partner(kind=PartnerKind.POLE_OWNER), code="ADM-1")
    site = make_site(partner, pole=pole)
    site_services.site_approve(site=site, actor=officer_user)
    approved_network(partner, cidr="10.77.0.0/24", ports=(554,))
    camera = site_services.camera_register(
        site=site,
        owner=partner,
        actor=partner.created_by,
        vendor="Hikvision",
        model="DS-2CD",
        serial="ADM-SERIAL-1",
        resolution="1920x1080",
        rtsp_url="rtsp://10.77.0.5/live",
        username="adminuser",
        password="admin-secret",
    )
    return {
        "sites.UtilityPole": pole,
        "sites.Site": site,
        "sites.Camera": camera,
        "sites.SiteStatusChange": site.status_changes.latest("created_at", "id"),
    }


# --- Agreements and tickets (contracts) ----------------------------------------------------------

_camera_serial = itertools.count(1)
_contract_number = itertools.count(1)


def make_active_site(host_partner, *, kelurahan_code="31.71.01.1001", cameras: int = 1, **kw):
    """An active site of `host_partner` with `cameras` cameras it owns (rows written directly)."""
    from sites.models import Camera, Site, SiteStatus

    site = make_site(host_partner, kelurahan_code=kelurahan_code, **kw)
    Site.objects.filter(pk=site.pk).update(status=SiteStatus.ACTIVE)
    site.refresh_from_db()
    for _ in range(cameras):
        Camera.objects.create(
            site=site,
            owner=host_partner,
            vendor="Dahua",
            model="IPC-HFW",
            serial=f"PKS-{next(_camera_serial)}",
            resolution="1920x1080",
            created_by=host_partner.created_by,
        )
    return site


def make_contract(
    parties,
    *,
    sites=(),
    status: str = "active",
    obligations: dict | None = None,
    responsible=None,
    term_days: int = 365,
    term_start=None,
    total_value: int = 100_000_000,
    **kw,
):
    """A contract version with `parties` [(partner, [roles])], rows written directly.

    `status="active"` puts its sites in force. `obligations` maps an ObligationKind to its value
    (None for kinds without one), all owed by `responsible` (default: the first party).
    Ticket and SLA tests use this so they don't depend on the drafting and signing flow.
    """
    from datetime import timedelta

    from django.utils import timezone

    from contracts.models import (
        Contract,
        ContractParty,
        ContractSite,
        FundingShare,
        Obligation,
        ShareKind,
    )

    start = term_start or timezone.localdate() - timedelta(days=30)
    first_site = next(iter(sites), None)
    contract = Contract.objects.create(
        number=kw.pop("number", f"PKS/{next(_contract_number):04d}/DISKOMINFOTIK/2026"),
        title=kw.pop("title", "Kerja sama CCTV"),
        first_party_signatory="Kepala Dinas Kominfotik",
        total_value=total_value,
        term_start=start,
        term_end=start + timedelta(days=term_days),
        status=status,
        status_changed_at=timezone.now(),
        kota=first_site.kelurahan.parent.parent if first_site else None,
        created_by=kw.pop("created_by", None) or officer(),
        **kw,
    )
    for partner, roles in parties:
        ContractParty.objects.create(contract=contract, partner=partner, roles=list(roles))
    first_partner = parties[0][0]
    FundingShare.objects.create(
        contract=contract, partner=first_partner, kind=ShareKind.CASH, amount=total_value
    )
    for site in sites:
        ContractSite.objects.create(contract=contract, site=site, in_force=status == "active")
    for kind, value in (obligations or {}).items():
        Obligation.objects.create(
            contract=contract, kind=kind, value=value, responsible=responsible or first_partner
        )
    return contract
