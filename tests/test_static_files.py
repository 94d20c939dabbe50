"""plotly.js comes from the plotly package, and only plotly.min.js of it."""

from pathlib import Path

import plotly
from django.contrib.staticfiles import finders

from registry.staticfinders import PlotlyFinder

PACKAGE_COPY = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def test_the_pages_plotly_is_the_packages_own_copy():
    assert Path(finders.find("plotly/plotly.min.js")) == PACKAGE_COPY
    assert [Path(p) for p in finders.find("plotly/plotly.min.js", find_all=True)] == [PACKAGE_COPY]


def test_nothing_else_of_the_package_is_collected():
    finder = PlotlyFinder()
    assert [(path, storage.prefix) for path, storage in finder.list([])] == [
        ("plotly.min.js", "plotly")
    ]
    assert finder.find("plotly/widgetbundle.js") == []
    assert finder.find("plotly/widgetbundle.js", find_all=True) == []
    assert finder.find("plotly.min.js") == []
    assert finders.find("plotly/widgetbundle.js") is None
