"""Placeholder: replaced by the real TFE sandbox."""
from .core import Platform


class TFE(Platform):
    name = "tfe"

    def routes(self, app):
        pass

    def setup(self):
        return self.secrets.issue(self.name, "admin", {}).value
