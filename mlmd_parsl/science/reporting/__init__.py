"""What a run reports: results.csv, plots and report.md next to the seed's numbers."""
