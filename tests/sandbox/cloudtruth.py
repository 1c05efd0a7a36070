"""Placeholder: replaced by the real CloudTruth sandbox."""
from .core import Platform


class CloudTruth(Platform):
    name = "cloudtruth"

    def routes(self, app):
        pass

    def setup(self):
        return self.secrets.issue(self.name, "admin", {}).value
