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
