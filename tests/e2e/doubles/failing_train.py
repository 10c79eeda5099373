"""Test double of a training entrypoint that fails the way a real one does.

It honours the SageMaker failure contract (reason in ``$EDF_OPT_ML/output/failure``, non-zero
exit) so the end-to-end test can check that the reason reaches the execution's cause and the
alert. Mapped to an image URI by the test (``LocalRuntime(image_commands=...)``).
"""

import os
import sys
from pathlib import Path

REASON = "MemoryError: simulated out-of-memory while fitting citylearn-01 (test double)"


def main() -> int:
    failure = Path(os.environ.get("EDF_OPT_ML", "/opt/ml")) / "output" / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(REASON)
    print(REASON, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
