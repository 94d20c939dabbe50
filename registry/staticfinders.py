"""Where collectstatic and the development server find plotly.js.

The plotly package ships plotly.min.js beside 20 MB that the pages never load (the
Jupyter widget bundle, its datasets and templates). Listing the package folder in
STATICFILES_DIRS collected, hashed and compressed all of it on every deploy.
"""

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage


class PlotlyFinder(BaseFinder):
    """Serves the plotly package's own plotly.min.js as ``plotly/plotly.min.js``.

    Never a CDN: hospitals are often offline, and the version is the one the Python
    package that builds the figures was tested with.
    """

    prefix = "plotly"
    name = "plotly.min.js"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=Path(plotly.__file__).parent / "package_data")
        self.storage.prefix = self.prefix

    def find(self, path, find_all=False, **kwargs):
        if path == f"{self.prefix}/{self.name}":
            found = self.storage.path(self.name)
            return [found] if find_all else found
        return []

    def list(self, ignore_patterns):
        yield self.name, self.storage
