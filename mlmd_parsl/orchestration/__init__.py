"""The thin Parsl edge: site config -> parsl.Config, apps, campaign. Nothing here loads Parsl at import."""
