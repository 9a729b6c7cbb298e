"""The composition root: the one package that knows every other and puts them together.

The app factory (factory.py: settings, database, every channel's blueprints, the console,
the public site, the Open311 API), the `webleads` command line (cli/, one module per
group of commands), the worker's loops (background.py), the demo town (seed.py), the
terminal chat on the dev channel (chat.py) and the access-log filter (access_log.py).
Nothing imports app/; the brain (bot/) and everything below it never know it exists
(pyproject.toml's layers contract).
"""
