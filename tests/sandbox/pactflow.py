"""Placeholder: replaced by the real PactFlow sandbox."""
from .core import Platform


class PactFlow(Platform):
    name = "pactflow"

    def routes(self, app):
        pass

    def setup(self):
        return self.secrets.issue(self.name, "admin", {}).value
