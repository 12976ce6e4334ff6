"""Create a first admin user when there is no user at all, printing its password once."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the 'admin' superuser with a generated password if no user exists."

    def handle(self, *args, **options):
        users = get_user_model()
        if users.objects.exists():
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser("admin", "", password)
        self.stdout.write(self.style.WARNING(
            "Created the first StashHog user.\n"
            f"  username: admin\n  password: {password}\n"
            "This password is shown only once; change it in the admin (/admin/)."
        ))
