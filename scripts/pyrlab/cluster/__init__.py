"""The images for a cluster (Kubeflow Notebooks, Zero to JupyterHub): `make registry`, `push`,
`pull` and `z2jh-values`."""
