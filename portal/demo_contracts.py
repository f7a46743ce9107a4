"""Demo partnership agreements, made through the real services by the demo officers.

Two contracts are in force over parts of the baseline fleet, so the simulator's failing cameras
open maintenance tickets routed to a real responsible party; one expires within the month (its
reminders are due), one waits in legal review, and the approved demo application has its draft.
"""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from contracts import agreement_services as pks
from contracts.models import Contract, HostingApplication, ObligationKind, ShareKind
from partners.models import Partner
from sites.models import Site

_PDF = b"%PDF-1.4\n% Demo PKS\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"

# (number, title, partner, roles, sites from its fleet, term (days ago started, days long),
#  shares [(kind, amount, from the partner?)], obligations {kind: value}, how far it goes)
_CONTRACTS = [
    (
        "PKS/001/DISKOMINFOTIK/2026",
        "Kerja sama CCTV koridor pertokoan Jakarta Pusat",
        "PT Toko Sejahtera Abadi",
        ["host", "funder", "maintainer"],
        40,
        (200, 3 * 365),
        [
            (ShareKind.APBD, 200_000_000, False),
            (ShareKind.CASH, 150_000_000, True),
            (ShareKind.CSR, 50_000_000, True),
        ],
        {
            ObligationKind.UPTIME: 99,
            ObligationKind.ACKNOWLEDGE: 4,
            ObligationKind.REPAIR: 24,
            ObligationKind.INSPECTION: 90,
            ObligationKind.SIGNAGE: None,
            ObligationKind.RETENTION: 30,
            ObligationKind.FEED: None,
        },
        "active",
    ),
    (
        "PKS/002/DISKOMINFOTIK/2026",
        "Pemasangan kamera pada tiang PT Tiang Nusantara Jaya",
        "PT Tiang Nusantara Jaya",
        ["host", "pole_owner", "maintainer"],
        30,
        # Ends within the month: the 30- and 7-day expiry reminders are what the demo shows.
        (340, 365),
        [(ShareKind.APBD, 90_000_000, False), (ShareKind.IN_KIND, 60_000_000, True)],
        {ObligationKind.UPTIME: 98, ObligationKind.ACKNOWLEDGE: 6, ObligationKind.REPAIR: 48},
        "active",
    ),
    (
        "PKS/003/DISKOMINFOTIK/2026",
        "CCTV lingkungan RW 05 Kembangan Utara",
        "RW 05 Kembangan Utara",
        ["host", "funder"],
        10,
        (-14, 2 * 365),
        [(ShareKind.APBD, 30_000_000, False), (ShareKind.IN_KIND, 5_000_000, True)],
        {ObligationKind.ACKNOWLEDGE: 12, ObligationKind.REPAIR: 72},
        "legal_review",
    ),
]


def _pdf() -> SimpleUploadedFile:
    return SimpleUploadedFile("pks-ditandatangani.pdf", _PDF, content_type="application/pdf")


def seed_contracts(*, drafter, legal, approver) -> None:
    """Create the demo contracts once; running it again changes nothing."""
    if Contract.objects.exists():
        return
    today = timezone.localdate()
    for number, title, name, roles, site_count, term, shares, obligations, goal in _CONTRACTS:
        partner = Partner.objects.filter(name=name).first()
        if partner is None:
            continue
        sites = list(
            Site.objects.filter(host_partner=partner, status="active").order_by("id")[:site_count]
        )
        started_ago, length = term
        start = today - timedelta(days=started_ago)
        contract = pks.contract_create(
            actor=drafter,
            number=number,
            title=title,
            term_start=start,
            term_end=start + timedelta(days=length),
            total_value=sum(amount for _kind, amount, _own in shares),
            first_party_signatory="Kepala Dinas Komunikasi, Informatika dan Statistik",
            kota=sites[0].kelurahan.parent.parent if sites else None,
        )
        pks.contract_set_party(
            contract=contract,
            actor=drafter,
            partner=partner,
            roles=roles,
            signatory=partner.contact_name,
            signatory_title="Direktur" if partner.kind != "community" else "Ketua RW",
        )
        for kind, amount, own in shares:
            pks.contract_add_share(
                contract=contract,
                actor=drafter,
                kind=kind,
                amount=amount,
                partner=partner if own else None,
            )
        for site in sites:
            pks.contract_add_site(contract=contract, actor=drafter, site=site)
        for kind, value in obligations.items():
            pks.contract_add_obligation(
                contract=contract, actor=drafter, kind=kind, value=value, responsible=partner
            )
        pks.contract_submit_for_review(contract=contract, actor=drafter)
        if goal == "active":
            pks.contract_sign(contract=contract, actor=legal, signed_pdf=_pdf())
            pks.contract_activate(contract=contract, actor=approver)
    approved = HostingApplication.objects.filter(status="approved").order_by("id").first()
    if approved is not None:
        pks.contract_draft_from_application(application=approved, actor=drafter)
