"""The static files storage: WhiteNoise's compressed, hashed-name storage, with the
relative imports between the dashboard's ES modules rewritten to the hashed names too."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class DashboardStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed names (served with a ten-year ``immutable`` max-age) and brotli/gzip copies.

    The pages' scripts are ES modules that import ``./live.js``: unless the import names
    the hashed file, the browser asks for a name that is not served (only hashed copies
    are kept) and the page's script never runs. Django rewrites such imports when asked.
    """

    support_js_module_import_aggregation = True
