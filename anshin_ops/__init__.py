"""anshin-ops operator tools on the controller (the CLI grows here; see README "Where things live")."""

import os
import sys

_SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _SHARED not in sys.path:  # anshin_common: the JST clock and whole-file writes, shared with library/ and the VMs
    sys.path.append(_SHARED)
