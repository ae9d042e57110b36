"""The application (لایه کاربرد): the command service and its group-commit writer, the
rules of who may do what, the keyring, the user directory, idempotency, the access log.
Depends on the domain, the projections and the catalogue; never on a runner, an edge or a
composition root."""
