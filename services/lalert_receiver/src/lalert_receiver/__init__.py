"""Receiving side of L-Alert (Lアラート) for the Anshin Tokushima L-Alert VM.

Stdlib plus defusedxml (hardened XML) and waitress (WSGI server); nothing of
Ansible. Modules: config (settings file), wsse (UsernameToken digest),
edxl (SOAP + EDXL-DE parsing), payload (JMA / Public Commons summaries from
a data table), store (SQLite WAL + spool), app (WSGI), server and sender
(command-line entry points).
"""

__version__ = "1.0.0"
