"""Runs one sandboxed experiment and prints its result and the isolation as JSON.

The escape tests start it as an unprivileged user (``setpriv``) with a copy of the sandbox
modules that any user can read, so it needs nothing but the standard library.
Usage: ``python sandbox_launcher.py '{"folder": ..., "args": [...], "data_dir": ..., "limits": {...}}'``
"""

import json
import sys
from dataclasses import asdict

from scientist.sandbox import Sandbox, SandboxLimits

spec = json.loads(sys.argv[1])
sandbox = Sandbox(SandboxLimits(**spec["limits"]), data_dir=spec["data_dir"])
result = sandbox.run(spec["folder"], spec["args"])
print(json.dumps({"result": asdict(result), "isolation": asdict(sandbox.isolation)}))
