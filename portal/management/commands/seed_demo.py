from django.core.management.base import BaseCommand

from portal.demo import seed_demo


class Command(BaseCommand):
    help = "Create invented demo partners and one user per role (DEBUG only; idempotent)."

    def handle(self, *args, **options):
        seed_demo()
        self.stdout.write("Demo data is in place.")
