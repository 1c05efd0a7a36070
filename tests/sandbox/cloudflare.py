"""Placeholder: replaced by the real Cloudflare sandbox."""
from .core import Platform


class Cloudflare(Platform):
    name = "cloudflare"

    def routes(self, app):
        pass

    def setup(self):
        return self.secrets.issue(self.name, "admin", {}).value
