"""The model quality gate (`python -m renderer qualify`), from reference inputs to a verdict and a report.

- cases: the reference suite, made from fixtures/ (committed media) and records/ (limits, baselines, results)
- rendering: one case rendered as the portal would and measured (measure: numbers read from the output file)
- gate: the limits and allowed regressions, and the record of which backend version passed
- command: the command line's run over the suite; selftest proves the gate refuses doctored renders
- report, report_html, results: what a run leaves for people (report.html) and for a pipeline (figures)
"""
