"""The images: what each build installs and reads, their locks, and the records of what they hold.
`make build`, `check`, `lock`, `upgrade`, `outdated`, `manifest`, `sbom`, `clean`, and the build
caches of `make proxies`."""
