"""Helpers that read pyrlab's package lists, map them to installable packages and run the labs."""
