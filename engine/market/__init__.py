"""Listings (``listings``: exchange, currency, FX series) and the alignment of prices onto
the study calendar in one currency (``panel``).  May use ``data``, ``config`` and the ground
floor."""
