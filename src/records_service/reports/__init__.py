"""Reports made from the service's data for people outside it: the Panel's report.

``panel`` gathers what the Police and Crime Panel is told about a period (awards,
the completeness of each case file, money and outcomes, open findings, disposals,
the audit log's signed checkpoint) in a fixed number of queries; ``known_gaps`` is
where the register of known gaps joins the completeness it reports; ``render``
turns the data into HTML (a Jinja template), and ``pdf`` into PDF (ReportLab, laid
out by ``pdf_layout``); ``produce`` makes a report and captures it as a
``panel_report`` record through the normal capture path, so what the Panel was told
is kept unaltered.
"""
