"""Placeholder: replaced by the real Pulumi sandbox."""
from .core import Platform


class Pulumi(Platform):
    name = "pulumi"

    def routes(self, app):
        pass

    def setup(self):
        return self.secrets.issue(self.name, "admin", {}).value
