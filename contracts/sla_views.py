"""SLA report and breach pages. Everything here reads: contracts are looked up through the
permission scope (another partner's contract, report or breach is a 404), and the same report
data renders as a page, a print page, CSV or XLSX (`?format=`)."""

from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contracts import reports, sla_selectors
from contracts.models import BreachKind
from contracts.sla_forms import BreachFilterForm, MonthForm, PartnerReportForm
from contracts.sla_selectors import previous_month
from partners.models import Partner
from partners.selectors import memberships_of
from portal.roles import is_officer, is_operator

EXPORTS = {"csv": reports.csv_response, "xlsx": reports.xlsx_response}
# Evidence keys the uptime evaluation and the ticket clocks record; any other key shows as is.
EVIDENCE_LABELS = {
    "month": gettext_lazy("Month"),
    "from": gettext_lazy("Counted from"),
    "to": gettext_lazy("Counted to"),
    "ticket": gettext_lazy("Ticket"),
    "clock": gettext_lazy("Clock"),
    "opened_at": gettext_lazy("Opened"),
    "due_at": gettext_lazy("Was due"),
    "acknowledged_at": gettext_lazy("Acknowledged"),
    "resolved_at": gettext_lazy("Resolved"),
}


def _may_read_sla(user) -> bool:
    """Officers, operators and partner members; residents have no SLA to read."""
    return is_officer(user) or is_operator(user) or memberships_of(user=user).exists()


def _query(request: HttpRequest, **defaults) -> QueryDict:
    """The query string with defaults for what it leaves out (the form then shows them)."""
    query = request.GET.copy()
    for key, value in defaults.items():
        if not query.get(key):
            query[key] = value
    return query


def _report_response(
    request: HttpRequest, form: MonthForm, report: dict, template: str, context: dict
) -> HttpResponse:
    output = request.GET.get("format", "")
    if output and form.errors:
        return HttpResponseBadRequest(_("Enter a month as YYYY-MM, e.g. 2026-11."))
    if output in EXPORTS:
        return EXPORTS[output](report)
    sections = reports.sections_of(report)
    if output == "print":
        return render(request, "contracts/sla_print.html", {"report": report, "sections": sections})
    if output:
        raise Http404
    links = {}
    query = form.data.copy()
    query["month"] = f"{report['month']:%Y-%m}"
    for name in ("csv", "xlsx", "print"):
        query["format"] = name
        links[name] = f"?{query.urlencode()}"
    return render(
        request,
        template,
        {
            "form": form,
            "report": report,
            "sections": sections,
            "links": links,
            # A party reads its contract's breaches here, but the breach pages show each
            # partner only the breaches it answers for: links would lead others to a 404.
            "link_breaches": is_officer(request.user) or is_operator(request.user),
            **context,
        },
    )


@login_required
def contract_sla(request: HttpRequest, pk: int) -> HttpResponse:
    """One contract version's monthly SLA report (?month=YYYY-MM, default the last month)."""
    contract = sla_selectors.contract_for_report(user=request.user, pk=pk)
    form = MonthForm(_query(request, month=f"{previous_month():%Y-%m}"))
    report = sla_selectors.contract_sla_report(contract=contract, month=form.chosen_month())
    return _report_response(
        request, form, report, "contracts/sla_contract.html", {"contract": contract}
    )


@login_required
def partner_sla(request: HttpRequest) -> HttpResponse:
    """A partner's monthly SLA report: members pick among their partners (the first by
    default), officers and operators any."""
    if not _may_read_sla(request.user):
        raise Forbidden
    partners = sla_selectors.report_partners(user=request.user)
    chosen = request.GET.get("partner", "")
    if chosen:
        if not chosen.isdigit():
            raise Http404
        partner = sla_selectors.partner_for_report(user=request.user, pk=int(chosen))
    elif is_officer(request.user) or is_operator(request.user):
        partner = None
    else:
        partner = partners.first()
    defaults = {"month": f"{previous_month():%Y-%m}"}
    if partner is not None:
        defaults["partner"] = str(partner.pk)
    form = PartnerReportForm(_query(request, **defaults), partners=partners)
    if partner is None:
        return render(
            request, "contracts/sla_partner.html", {"form": form, "report": None, "partner": None}
        )
    report = sla_selectors.partner_sla_report(
        partner=partner, month=form.chosen_month(), user=request.user
    )
    return _report_response(
        request, form, report, "contracts/sla_partner.html", {"partner": partner}
    )


@login_required
def breach_list(request: HttpRequest) -> HttpResponse:
    """Breaches with counts per partner and per kota: officers see all (Sudin: their kota),
    partners the breaches they answer for."""
    if not _may_read_sla(request.user):
        raise Forbidden
    visible = sla_selectors.breach_list(user=request.user)
    partners = Partner.objects.filter(pk__in=visible.values("responsible_id")).order_by("name")
    form = BreachFilterForm(request.GET or None, partners=partners)
    breaches = sla_selectors.breach_list(user=request.user, filters=form.filters())
    page = Paginator(breaches, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "contracts/breach_list.html",
        {
            "form": form,
            "page": page,
            "breaches": page.object_list,
            "counts": sla_selectors.breach_counts(breaches),
            "kinds": dict(BreachKind.choices),
            "show_partner_counts": is_officer(request.user) or is_operator(request.user),
        },
    )


def _moment(value):
    """An ISO time the evidence recorded, as a datetime the template shows in WIB."""
    if isinstance(value, str) and "T" in value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _outage_rows(outages) -> list[dict]:
    return [
        {
            "id": outage.get("id"),
            "started_at": _moment(outage.get("started_at")),
            "ended_at": _moment(outage.get("ended_at")),
        }
        for outage in outages
        if isinstance(outage, dict)
    ]


@login_required
def breach_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A breach and its evidence: the uptime evaluation's seconds and outages, or a ticket
    clock's times and outage (as contracts.ticket_services records them)."""
    breach = sla_selectors.breach_list(user=request.user).filter(pk=pk).first()
    if breach is None:
        raise Http404
    evidence = dict(breach.evidence or {})
    outages = evidence.pop("outages", None)
    single = evidence.pop("outage", None)
    if not isinstance(outages, list):
        outages = [single] if isinstance(single, dict) else []
    hours = {
        key.removesuffix("_seconds"): round(evidence.pop(key) / 3600, 2)
        for key in ("counted_seconds", "down_seconds", "maintenance_seconds")
        if isinstance(evidence.get(key), int | float)
    }
    labels = {key: str(label) for key, label in EVIDENCE_LABELS.items()}
    return render(
        request,
        "contracts/breach_detail.html",
        {
            "breach": breach,
            "outages": _outage_rows(outages),
            "hours": hours,
            "evidence": [
                (labels.get(key, key), _moment(value))
                for key, value in sorted(evidence.items())
                if value not in (None, "")
            ],
        },
    )
