from django.apps import AppConfig


class CurtailmentConfig(AppConfig):
    name = "curtailment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The engine moves actions when the DCC integration applies a device response or
        # alert, in whichever process receives it (web or worker).
        from curtailment.dcc_handlers import ALERT_HANDLERS, RESPONSE_HANDLERS
        from dcc.services import handlers_install

        handlers_install(responses=RESPONSE_HANDLERS, alerts=ALERT_HANDLERS)
        # A charger whose consent ends mid-event (withdrawal, change of tenancy) is released
        # at once: the consent app calls this hook and never imports the engine.
        from consent.hooks import consent_ended_handlers_install
        from curtailment.services.consent_ended import hcalcs_consent_ended

        consent_ended_handlers_install(handlers=[hcalcs_consent_ended])
        # Feeder monitoring announces its alerts and asks which feeders are curtailing
        # through the same kind of hook: the feeders app never imports the engine.
        from curtailment.services.handover import ENGINE_HOOKS
        from feeders.hooks import engine_hooks_install

        engine_hooks_install(ENGINE_HOOKS)
        # The premise page shows what the engine did there.
        from consent.hooks import premise_curtailment_install
        from curtailment.selectors import premise_curtailment_read

        premise_curtailment_install(provider=premise_curtailment_read)
