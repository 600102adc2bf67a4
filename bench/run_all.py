"""Run every benchmark in this folder, one after another (``make bench``).

Each ``bench_*.py`` is a standalone script that prints its figure and the ratio against a
baseline it measures in the same run. They expect ``DATABASE_URL``/``REDIS_URL`` from
``scripts/with_services.py``, which ``make bench`` provides.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failures = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name} ===", flush=True)
        failures += subprocess.call([sys.executable, str(script)], cwd=HERE.parent) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
