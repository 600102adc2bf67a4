"""Register an ASP provider's VEN on our OpenADR 3 VTN and print its credentials, once."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from curtailment.services.asp import asp_ven_register


class Command(BaseCommand):
    help = "Register a provider's VEN (OpenADR 3 client) and print its client id and secret, once."

    def add_arguments(self, parser):
        parser.add_argument("--ven-name", required=True, help="the VEN's name (letters, digits, '_' and '-')")
        parser.add_argument("--provider", required=True, help="the ASP provider's name")

    def handle(self, *args, ven_name: str, provider: str, **options):
        try:
            ven, secret = asp_ven_register(ven_name=ven_name, provider=provider)
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
            ) from None
        self.stdout.write(
            f"VEN {ven.ven_name} registered for {ven.provider}.\n"
            f"  client_id:     {ven.client_id}\n"
            f"  client_secret: {secret}\n"
            "Give both to the provider now: the secret is not stored and cannot be shown again.\n"
            "Name the VEN on the provider's contracts in the admin."
        )
