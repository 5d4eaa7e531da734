"""The weekly reliability scorecard (issue 6, item 6).

:mod:`.records` turns stored runs into :class:`~.records.RunRecord` values; :mod:`.compute`
is a pure function from records to a :class:`~.compute.Scorecard`; :mod:`.markdown`,
:mod:`.html` (with :mod:`.charts`, inline SVG) and :func:`.compute.Scorecard.to_dict`
render it. :func:`.build.load_scorecard` reads the store for a window and the one before.
"""
