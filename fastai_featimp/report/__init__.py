"""`learn.report(data, 'report.html')`: one self-contained HTML page that explains a learner, made by calling its public
methods (`build.py` runs them, `sections.py` lays out what every kind shares, `<kind>.py` what one kind adds, `page.py`
writes the HTML). A new kind of data gets a report by adding its `report/<kind>.py` with a `RECIPE`."""
from .build import write_report

__all__ = ['write_report']
