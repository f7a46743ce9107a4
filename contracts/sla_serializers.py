"""Shapes of breaches, SLA evaluations and the monthly SLA reports in the API (read-only)."""

from rest_framework import serializers

from contracts.models import Breach, SlaEvaluation

_PERCENT = {"max_digits": 6, "decimal_places": 2, "allow_null": True}
_HOURS = {"max_digits": 12, "decimal_places": 2}


class _ContractRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    version = serializers.IntegerField()


class _PartnerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class _AreaRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class _CameraRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField(source="__str__")


class _TicketRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()


class BreachSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    contract = _ContractRefSerializer(read_only=True)
    kota = _AreaRefSerializer(source="contract.kota", read_only=True, allow_null=True)
    responsible = _PartnerRefSerializer(read_only=True)
    camera = _CameraRefSerializer(read_only=True, allow_null=True)
    ticket = _TicketRefSerializer(read_only=True, allow_null=True)
    evidence = serializers.JSONField(read_only=True)

    class Meta:
        model = Breach
        fields = [
            "id",
            "kind",
            "kind_label",
            "contract",
            "kota",
            "responsible",
            "obligation",
            "camera",
            "ticket",
            "period",
            "due_at",
            "detected_at",
            "target",
            "measured",
            "evidence",
        ]
        read_only_fields = fields


class SlaEvaluationSerializer(serializers.ModelSerializer):
    contract = _ContractRefSerializer(read_only=True)
    kota = _AreaRefSerializer(source="contract.kota", read_only=True, allow_null=True)

    class Meta:
        model = SlaEvaluation
        fields = [
            "id",
            "contract",
            "kota",
            "month",
            "evaluated_at",
            "cameras",
            "cameras_below_target",
        ]
        read_only_fields = fields


# --- monthly reports (plain data from contracts.sla_selectors) -------------------------------


class SlaCameraSerializer(serializers.Serializer):
    camera_id = serializers.IntegerField()
    camera = serializers.CharField()
    site_id = serializers.IntegerField()
    site = serializers.CharField()
    kelurahan = serializers.CharField()
    kecamatan = serializers.CharField()
    kota = serializers.CharField()
    availability = serializers.DecimalField(**_PERCENT)
    target = serializers.DecimalField(**_PERCENT)
    status = serializers.ChoiceField(choices=["met", "missed", "no_data", "no_target"])
    status_label = serializers.CharField()
    counted_hours = serializers.DecimalField(**_HOURS)
    down_hours = serializers.DecimalField(**_HOURS)
    maintenance_hours = serializers.DecimalField(**_HOURS)
    outages = serializers.IntegerField()


class SlaSummarySerializer(serializers.Serializer):
    cameras = serializers.IntegerField()
    met = serializers.IntegerField()
    missed = serializers.IntegerField()
    no_data = serializers.IntegerField()
    no_target = serializers.IntegerField()
    availability = serializers.DecimalField(**_PERCENT)
    down_hours = serializers.DecimalField(**_HOURS)
    maintenance_hours = serializers.DecimalField(**_HOURS)
    outages = serializers.IntegerField()


class SlaTicketFiguresSerializer(serializers.Serializer):
    opened = serializers.IntegerField()
    acknowledge_clocks = serializers.IntegerField()
    acknowledged_in_time = serializers.IntegerField()
    acknowledged_in_time_pct = serializers.DecimalField(**_PERCENT)
    repair_clocks = serializers.IntegerField()
    repaired_in_time = serializers.IntegerField()
    repaired_in_time_pct = serializers.DecimalField(**_PERCENT)


class SlaBreachRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    responsible_id = serializers.IntegerField()
    responsible = serializers.CharField()
    camera = serializers.CharField()
    ticket = serializers.CharField()
    target = serializers.DecimalField(**_PERCENT)
    measured = serializers.DecimalField(**_PERCENT)
    due_at = serializers.DateTimeField(allow_null=True)
    detected_at = serializers.DateTimeField()


class SlaContractSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    version = serializers.IntegerField()
    label = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    kota = serializers.CharField()


class ContractSlaReportSerializer(serializers.Serializer):
    contract = SlaContractSerializer()
    month = serializers.DateField(format="%Y-%m")
    active = serializers.BooleanField(help_text="Whether the version was active in the month.")
    whole_month = serializers.BooleanField(
        help_text="Whether it was active the whole month (else only active_from to active_until)."
    )
    active_from = serializers.DateField(allow_null=True)
    active_until = serializers.DateField(allow_null=True)
    evaluated_at = serializers.DateTimeField(allow_null=True)
    cameras = SlaCameraSerializer(many=True)
    summary = SlaSummarySerializer()
    tickets = SlaTicketFiguresSerializer()
    breaches = SlaBreachRowSerializer(many=True)


class SlaTotalsSerializer(serializers.Serializer):
    cameras = serializers.IntegerField()
    met = serializers.IntegerField()
    missed = serializers.IntegerField()
    no_data = serializers.IntegerField()
    no_target = serializers.IntegerField()
    outages = serializers.IntegerField()
    down_hours = serializers.DecimalField(**_HOURS)
    maintenance_hours = serializers.DecimalField(**_HOURS)
    breaches = serializers.IntegerField()
    breaches_responsible = serializers.IntegerField(
        help_text="Breaches this partner is the responsible party of."
    )


class PartnerSlaReportSerializer(serializers.Serializer):
    partner = _PartnerRefSerializer()
    month = serializers.DateField(format="%Y-%m")
    contracts = ContractSlaReportSerializer(many=True)
    totals = SlaTotalsSerializer()
    tickets = SlaTicketFiguresSerializer()
