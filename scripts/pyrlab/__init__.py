"""pyrlab's commands, run by make as `python -m pyrlab VERB` (__main__). One subpackage a feature:
images (build, lock, describe), labs (a lab on this host), team (the team server), cluster (the
registry and Zero to JupyterHub); beneath them what all share (settings, engine, files); beside
them configdoc (`make docs`); and inside, the code that also runs in builds and containers."""
