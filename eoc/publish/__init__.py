"""Reports that can be published: the directors' figures for any period and place, exported as CSV, XLSX and PDF."""
