"""The browser pages: server-rendered Jinja2 templates over the same core services as the API.

``i18n`` holds the message catalogues (English is the source language, Japanese is
translated), ``templating`` the Jinja2 environment, ``csrf`` the cross-site request forgery
tokens of the forms, ``static/`` the stylesheets, scripts and vendored libraries (each with
its licence file), all served from the application's own origin.
"""
