"""Which Jupyter kernel this process is: asked of a running kernel only, never by importing
ipykernel's kernel application (that would replace the ``comm`` package's functions in a
Jupyter server or a test run and break the widgets' comms there)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import ipywidgets
button = ipywidgets.Button()
import ipykernel  # loaded by jupyter_client's kernelspec lookups in a Jupyter server
from aimass_lab.workspace import current_kernel_id
assert current_kernel_id() is None
assert "ipykernel.kernelapp" not in sys.modules
button.close()  # the comm closes with the manager it was opened with
print("ok")
"""


def test_outside_a_kernel_nothing_of_ipykernel_is_imported() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
