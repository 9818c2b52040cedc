"""``python -m aigc_audit``: the ``aigc-audit`` command."""

import sys

from aigc_audit.governance.cli import main

sys.exit(main())
