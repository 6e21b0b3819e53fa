"""A deterministic simulator of the VendorX, VendorY and VendorZ APIs, served over HTTP on loopback.

    from vendor_sandbox import SandboxConfig, run_sandbox, truth_records

    with run_sandbox(SandboxConfig(vendor="x", seed=7)) as sandbox:
        ...  # talk to sandbox.url

Importing this package starts nothing: servers exist only inside `run_sandbox` or the CLI.
"""

from vendor_sandbox.config import SandboxConfig
from vendor_sandbox.server import Sandbox, run_sandbox
from vendor_sandbox.truth import truth_records

__all__ = ["Sandbox", "SandboxConfig", "run_sandbox", "truth_records"]
