"""Run ``ImageNearDuplicate(workers=2)`` in a fresh interpreter, for the tests that compare worker
processes with one process: the test's own interpreter may hold other tests' threads, beside
which no worker is forked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

_SCRIPT = """
import json, sys
from pathlib import Path
from aigc_audit.evaluators.copying import image_near_duplicate
from {module} import {release}

started = []
original = image_near_duplicate.ProcessPoolExecutor

def pool(*args, **kwargs):
    started.append(args[0])
    return original(*args, **kwargs)

image_near_duplicate.ProcessPoolExecutor = pool
{settings}
samples, reference = {release}(Path(sys.argv[1]){arguments})
result = image_near_duplicate.ImageNearDuplicate(workers=2).evaluate(samples, reference)
print(json.dumps({{"started": started, "errors": result.errors, "notes": [n.text for n in result.notes],
                  "items": [[r.item_id, r.flagged, r.score, r.evidence] for r in result.items]}}))
"""


def evaluate_in_two_workers(module: str, release: str, folder: Path, *, arguments: str = "",
                            settings: str = "") -> dict[str, Any]:
    """``{module}.{release}(folder{arguments})`` evaluated by two workers after ``settings`` (lines
    of Python that set the module's batch sizes): the pool sizes started, the errors, the notes and
    ``[item_id, flagged, score, evidence]`` per item."""
    script = _SCRIPT.format(module=module, release=release, settings=settings, arguments=arguments)
    done = subprocess.run([sys.executable, "-c", script, str(folder)], capture_output=True, text=True,
                          cwd=Path(__file__).parents[3], timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
