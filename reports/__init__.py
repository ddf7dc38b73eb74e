"""Reports: export a markdown report to md / PDF / DOCX (:mod:`reports.export`) and check that its inline
[n] citations point at sources the run stored (:mod:`reports.citations`).
"""
