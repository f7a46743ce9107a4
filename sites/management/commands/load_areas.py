from django.core.management.base import BaseCommand

from sites.loaders import load_areas


class Command(BaseCommand):
    help = "Load (or refresh) Jakarta's areas and kelurahan boundaries from sites/data."

    def handle(self, *args, **options):
        areas, rings = load_areas()
        self.stdout.write(f"Loaded {areas} areas and {rings} boundary rings.")
