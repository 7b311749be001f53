"""The team server on this host: `make hub`, `hub-stop`, `hub-status` and `hub-user`. The hub's
own code, which runs in its image, is in the top-level hub/ folder."""
