"""A system check loading the configured DCC keys, so a bad path or mismatched key is found at start-
up, not mid-curtailment."""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from dcc import config as dcc_config

# (what, loader) for each identity whose files must be readable once configured.
_IDENTITIES = (
    ("XML_KEY_PATH", "dnoctl's DUIS XML-signing identity", dcc_config.get_signer),
    ("GBCS_KEY_PATH", "dnoctl's GBCS pre-command identity", dcc_config.get_gbcs_signer),
    ("GBCS_KA_KEY_PATH", "dnoctl's GBCS key-agreement identity", dcc_config.get_gbcs_key_agreement),
    ("DCC_CERT_PATHS", "the DCC certificates dnoctl trusts", dcc_config.get_dcc_verifier),
)


@checks.register("dcc")
def dcc_keys_readable(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Configured keys and certificates load and match (development defaults are written when needed)."""
    settings = dcc_config.dcc_settings()
    errors = []
    for setting, what, load in _IDENTITIES:
        if not settings.get(setting):
            continue
        try:
            load()
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(f"{what}: {exc}", id="dcc.E001"))
    channel = settings.get("LOCAL_DELIVERY") or ""
    if channel not in dcc_config.LOCAL_DELIVERY_CHANNELS:
        errors.append(
            checks.Error(
                f"DCC_LOCAL_DELIVERY must be one of {dcc_config.LOCAL_DELIVERY_CHANNELS}, got {channel!r}",
                id="dcc.E002",
            )
        )
    return errors
