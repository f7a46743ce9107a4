from django.db import migrations

from portal.audit import AppendOnly


class Migration(migrations.Migration):
    dependencies = [("contracts", "0005_agreements_and_tickets")]

    # Contract history, ticket history and stored contract documents are never rewritten: a
    # signed PDF and its SHA-256 must stay exactly what the parties signed.
    operations = [
        AppendOnly("contracts_contractstatuschange"),
        AppendOnly("contracts_ticketevent"),
        AppendOnly("contracts_contractdocument"),
    ]
