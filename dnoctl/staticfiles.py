from whitenoise.storage import CompressedManifestStaticFilesStorage


class DashboardStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's hashed, compressed storage, with ES-module imports rewritten to hashed
    names: only hashed copies are served, so an unrewritten ``./live.js`` would stop the page's
    script."""

    support_js_module_import_aggregation = True
