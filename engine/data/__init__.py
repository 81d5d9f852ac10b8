"""Prices in: the price model (``prices``), sources (``csvfolder``, ``universe``, ``yahoo``
through the ``cache``; ``sources`` opens the one a command asks for), the cache's parts (``cache``
the store, ``cache_entry`` one entry's metadata and checksummed bars file, ``freshness`` sessions
and staleness, ``pricefiles`` CSV folders in and out), data-quality checks (``quality``; their
findings and reporting in ``flags``; ``limits`` the A-share price limits) and the
``basket data`` store (``store``).  May use ``config`` and the ground floor."""
