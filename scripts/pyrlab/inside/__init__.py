"""The code that runs inside containers and builds (the lock resolver, rlab's R resolution, the
manifests' inventory): standard library only, importable without site-packages."""
