"""SRPO inside verl: the plug-in entry point, the estimator and trainer registrations, the one module
that names verl's private API (compat), start-up checks (preflight) and the quiet console."""
