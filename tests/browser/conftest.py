"""Browser tests: the fixtures live in :mod:`tests.browser_support`, shared with the other
folders' browser tests; the names below are re-exported for the tests that import them."""

from tests.browser_support import ARTEFACTS, CHROMIUM, CHROMIUM_ARGS, PASSWORD, screenshot

__all__ = ["ARTEFACTS", "CHROMIUM", "CHROMIUM_ARGS", "PASSWORD", "screenshot"]
