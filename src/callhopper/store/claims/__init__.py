"""The claims of the dispensing core and their SQL adapter.

:mod:`~callhopper.store.claims.statements` holds the three claims (preview, hopper, push),
each one statement built once; :mod:`~callhopper.store.claims.reads` what the dispensing
core reads around them; :mod:`~callhopper.store.claims.adapter` the
:class:`~callhopper.ports.claims.Claims` port over both and the lease transitions of
:mod:`callhopper.store.dispensing`.
"""
