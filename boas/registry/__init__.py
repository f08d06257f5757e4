"""The registry's services: accounts and permissions, algorithms, versions and their artifacts, card
editing, publication and yanking.

Plain ``verb_noun`` functions that take the session and the acting user explicitly, validate their
input with the schemas the API documents (``schemas``), check a named permission (``permissions``),
call the store and own the commit. The JSON API, the pages, the CLI, the demo and the audit services
all call them; none of them imports Flask.
"""
