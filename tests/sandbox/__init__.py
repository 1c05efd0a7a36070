"""A local stand-in for the five token APIs (PactFlow, TFE, Cloudflare, Pulumi, CloudTruth),
and for GitHub's Actions secrets (a place the role delivers to).

``Sandbox`` serves each platform on its own loopback port. Tests use it in-process through the
``sandbox`` pytest fixture; ``python -m tests.sandbox`` runs it in the foreground.
"""
from .cloudflare import Cloudflare
from .cloudtruth import CloudTruth
from .github import GitHub
from .pactflow import PactFlow
from .pulumi import Pulumi
from .tfe import TFE

PLATFORMS = {
    "pactflow": PactFlow,
    "tfe": TFE,
    "cloudflare": Cloudflare,
    "pulumi": Pulumi,
    "cloudtruth": CloudTruth,
    "github": GitHub,
}

from .core import Sandbox  # noqa: E402  (needs PLATFORMS at call time only)

__all__ = ["Sandbox", "PLATFORMS"]
