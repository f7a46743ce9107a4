"""Shapes of the coverage-request API.

Public shapes carry no personal data: never the requester's name, contact or photo, and not the
description either (a resident's own words may name people); the location is rounded to 3
decimals (about 110 m). Officers' shapes carry the full request, its priority and private notes,
but not the contact itself: residents are written to through the portal, not by hand.
Input serializers check shapes only; the services own the rules and name the field they refuse.
"""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from partners.serializers import StatusChangeSerializer
from sites.models import RequestCategory, RequestStatus
from sites.request_selectors import priority_of, public_point
from sites.request_services import FEEDBACK_ANSWERS
from sites.serializers import AreaRefSerializer

_COARSE = {"max_digits": 7, "decimal_places": 3, "coerce_to_string": False}


class CoarseCoordinate(serializers.DecimalField):
    """A coordinate rounded for the public (3 decimals)."""

    def __init__(self, **kwargs):
        super().__init__(**_COARSE, read_only=True, **kwargs)

    def to_representation(self, value):
        return super().to_representation(public_point(value))


class PublicRequestSerializer(serializers.Serializer):
    reference = serializers.CharField(read_only=True)
    category = serializers.ChoiceField(choices=RequestCategory.choices, read_only=True)
    category_label = serializers.CharField(source="get_category_display", read_only=True)
    status = serializers.ChoiceField(choices=RequestStatus.choices, read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    lat = CoarseCoordinate()
    lon = CoarseCoordinate()
    kelurahan = AreaRefSerializer(read_only=True)
    kota = AreaRefSerializer(source="kelurahan.parent.parent", read_only=True)
    supports_count = serializers.IntegerField(read_only=True)
    created = serializers.SerializerMethodField()
    merged_into = serializers.CharField(
        source="merged_into.reference", read_only=True, allow_null=True, default=None
    )

    @extend_schema_field(OpenApiTypes.DATE)
    def get_created(self, request) -> str:
        return request.created_at.date().isoformat()


class PublicStepSerializer(serializers.Serializer):
    status = serializers.CharField(source="new_status", read_only=True)
    date = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.DATE)
    def get_date(self, change) -> str:
        return change.created_at.date().isoformat()


class PublicRequestDetailSerializer(PublicRequestSerializer):
    """One request for anyone: its public fields and the dates of its steps (no reasons, no
    officers' names)."""

    history = PublicStepSerializer(source="status_changes", many=True, read_only=True)


class NearbyQuerySerializer(serializers.Serializer):
    lat = serializers.FloatField(help_text="Latitude, e.g. -6.175305")
    lon = serializers.FloatField(help_text="Longitude, e.g. 106.826442")
    radius = serializers.IntegerField(
        required=False, min_value=10, max_value=1000, help_text="Metres (default: 150)"
    )


class NearbyRequestSerializer(serializers.Serializer):
    reference = serializers.CharField()
    category = serializers.ChoiceField(choices=RequestCategory.choices)
    category_label = serializers.CharField()
    status = serializers.ChoiceField(choices=RequestStatus.choices)
    status_label = serializers.CharField()
    lat = serializers.DecimalField(**_COARSE)
    lon = serializers.DecimalField(**_COARSE)
    kelurahan_code = serializers.CharField()
    kelurahan_name = serializers.CharField()
    supports_count = serializers.IntegerField()
    created = serializers.DateField()
    distance_m = serializers.IntegerField(help_text="Rounded to 10 m")


def _status_filter(value: str, extra: set[str]) -> str:
    if value not in extra | set(RequestStatus.values):
        raise serializers.ValidationError(_("Unknown status: %(value)s.") % {"value": value})
    return value


class PublicFilterSerializer(serializers.Serializer):
    # Plain text, not a choice: the status enum is named once, for the requests themselves.
    status = serializers.CharField(required=False, help_text="A status, or open")

    def validate_status(self, value: str) -> str:
        return _status_filter(value, {"open"})

    category = serializers.ChoiceField(choices=RequestCategory.choices, required=False)
    kelurahan = serializers.CharField(required=False, help_text="Kemendagri code")
    kota = serializers.CharField(required=False, help_text="Kemendagri code, e.g. 31.71")


class SubmitSerializer(serializers.Serializer):
    lat = serializers.CharField(max_length=32)
    lon = serializers.CharField(max_length=32)
    category = serializers.CharField(max_length=32)
    description = serializers.CharField(allow_blank=True, trim_whitespace=False)
    contact = serializers.CharField(allow_blank=True, help_text="Email address (SMS not yet)")
    name = serializers.CharField(required=False, allow_blank=True, default="")
    photo = serializers.FileField(required=False, allow_null=True, default=None)
    consent = serializers.BooleanField(help_text="The privacy notice was read and accepted")
    language = serializers.ChoiceField(choices=["id", "en"], required=False)
    # Left empty by people; a bot filling every field gives itself away.
    website = serializers.CharField(required=False, allow_blank=True, default="")


class SubmittedSerializer(serializers.Serializer):
    reference = serializers.CharField()
    status = serializers.CharField()
    detail = serializers.CharField()


class VerifySerializer(serializers.Serializer):
    token = serializers.CharField(required=False, allow_blank=True, default="")
    contact = serializers.CharField(required=False, allow_blank=True, default="")
    code = serializers.CharField(required=False, allow_blank=True, default="", max_length=12)


class VerifiedSerializer(serializers.Serializer):
    purpose = serializers.CharField()
    reference = serializers.CharField(allow_null=True)
    status = serializers.CharField(allow_null=True)


class ContactSerializer(serializers.Serializer):
    contact = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Email address, confirmed by email; empty: use the verified resident session",
    )


class ResidentActionSerializer(serializers.Serializer):
    counted = serializers.BooleanField(
        help_text="True: done now; false: a confirmation was emailed"
    )
    detail = serializers.CharField()
    supports_count = serializers.IntegerField()


class FeedbackSerializer(serializers.Serializer):
    token = serializers.CharField()
    answer = serializers.ChoiceField(choices=FEEDBACK_ANSWERS)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class CountSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kota_code = serializers.CharField()
    kota_name = serializers.CharField()
    total = serializers.IntegerField()
    open = serializers.IntegerField()
    installed = serializers.IntegerField()
    declined = serializers.IntegerField()
    supports = serializers.IntegerField()


# --- Officers -------------------------------------------------------------------------------


class PriorityPartsSerializer(serializers.Serializer):
    supports = serializers.IntegerField()
    rawan = serializers.IntegerField()
    distance_to_camera_m = serializers.IntegerField(
        allow_null=True, help_text="Null: no active camera within 1 km"
    )
    recent_nearby = serializers.IntegerField()


class PriorityPointsSerializer(serializers.Serializer):
    supports = serializers.FloatField()
    rawan = serializers.FloatField()
    distance_to_camera_m = serializers.FloatField()
    recent_nearby = serializers.FloatField()


class PrioritySerializer(serializers.Serializer):
    score = serializers.FloatField(help_text="0-100")
    parts = PriorityPartsSerializer()
    points = PriorityPointsSerializer()
    above_threshold = serializers.BooleanField()


class RequestSiteSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    address = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)


class QueueRequestSerializer(serializers.Serializer):
    reference = serializers.CharField(read_only=True)
    category = serializers.ChoiceField(choices=RequestCategory.choices, read_only=True)
    status = serializers.ChoiceField(choices=RequestStatus.choices, read_only=True)
    lat = serializers.DecimalField(max_digits=9, decimal_places=6, read_only=True)
    lon = serializers.DecimalField(max_digits=9, decimal_places=6, read_only=True)
    kelurahan = AreaRefSerializer(read_only=True)
    kota = AreaRefSerializer(source="kelurahan.parent.parent", read_only=True)
    rawan_level = serializers.IntegerField(source="kelurahan.rawan_level", read_only=True)
    description = serializers.CharField(read_only=True)
    requester_name = serializers.CharField(read_only=True)
    has_photo = serializers.SerializerMethodField()
    supports_count = serializers.IntegerField(read_only=True)
    site = RequestSiteSerializer(read_only=True, allow_null=True)
    merged_into = serializers.CharField(
        source="merged_into.reference", read_only=True, allow_null=True, default=None
    )
    decline_reason = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    status_changed_at = serializers.DateTimeField(read_only=True)
    closed_at = serializers.DateTimeField(read_only=True)
    priority = serializers.SerializerMethodField()

    def get_has_photo(self, request) -> bool:
        return bool(request.photo)

    @extend_schema_field(PrioritySerializer)
    def get_priority(self, request) -> dict:
        return priority_of(request)


class NoteSerializer(serializers.Serializer):
    author = serializers.CharField(source="author.__str__", read_only=True)
    body = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class QueueRequestDetailSerializer(QueueRequestSerializer):
    notes = NoteSerializer(many=True, read_only=True)
    history = StatusChangeSerializer(source="status_changes", many=True, read_only=True)


class QueueFilterSerializer(serializers.Serializer):
    status = serializers.CharField(required=False, help_text="A status, open (default) or all")
    category = serializers.ChoiceField(choices=RequestCategory.choices, required=False)
    kelurahan = serializers.CharField(required=False)
    kota = serializers.CharField(required=False)
    reference = serializers.CharField(required=False)
    above_threshold = serializers.BooleanField(required=False, allow_null=True, default=None)

    def validate_status(self, value: str) -> str:
        return _status_filter(value, {"open", "all"})


class RequestReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class PlanSerializer(RequestReasonSerializer):
    site = serializers.IntegerField(help_text="Id of the site that will cover the request")


class DeclineSerializer(RequestReasonSerializer):
    template = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Code of a decline template"
    )


class MergeSerializer(RequestReasonSerializer):
    into = serializers.CharField(help_text="Reference of the request that stays")


class DeclineTemplateSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    body_id = serializers.CharField(read_only=True)
    body_en = serializers.CharField(read_only=True)


class NoteWriteSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=4000)
