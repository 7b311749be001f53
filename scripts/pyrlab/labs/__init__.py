"""A lab on this host: `make pylab`, `make rlab`, their `-stop`, `make status` and `make password`.

Its published ports, HTTP probes and private files serve the team server, the build caches and
the registry too. Standard library only, so that a lab starts before any tool is installed."""
