"""Listings resolved once per run (``listings``: :class:`~engine.market.listings.RunListings`,
exchange, currency, FX series), closures the data show (``sessions``), the alignment of prices
onto the study calendar in one currency (``panel``), local benchmarks (``benchmarks``) and a
universe on a basket's sessions (``universe``).  May use ``data``, ``config`` and the ground
floor."""
