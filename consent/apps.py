from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The device's answer to 7.10 (removed from the boost button) and 7.11 (boost
        # details) arrives asynchronously through the DCC callback.
        from consent.boost import on_device_response
        from curtailment.service_requests import device_response_received

        device_response_received.connect(on_device_response, dispatch_uid="consent.boost")
