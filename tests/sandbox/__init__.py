"""A local stand-in for the five token APIs (PactFlow, TFE, Cloudflare, Pulumi, CloudTruth),
and for GitHub's Actions secrets (a place the role delivers to).

``Sandbox`` serves each platform on its own loopback port. Tests use it in-process through the
``sandbox`` pytest fixture; ``python -m tests.sandbox`` runs it in the foreground.

The platforms (and Flask, their requirement: ``tests/sandbox/requirements.txt``) are imported on
first use of ``Sandbox`` or ``PLATFORMS``, so that ``python -m tests.sandbox`` without Flask can
say how to install it instead of failing on import.
"""


def _platforms():
    from .cloudflare import Cloudflare
    from .cloudtruth import CloudTruth
    from .github import GitHub
    from .pactflow import PactFlow
    from .pulumi import Pulumi
    from .tfe import TFE

    return {
        "pactflow": PactFlow,
        "tfe": TFE,
        "cloudflare": Cloudflare,
        "pulumi": Pulumi,
        "cloudtruth": CloudTruth,
        "github": GitHub,
    }


def __getattr__(name):
    if name == "PLATFORMS":
        value = _platforms()
    elif name == "Sandbox":
        from .core import Sandbox as value
    else:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    globals()[name] = value
    return value
