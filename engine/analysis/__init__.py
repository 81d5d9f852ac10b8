"""Numbers about a simulated or aligned run: performance measures (``metrics``), event
studies (``events``) and their test statistics (``significance``).  May use ``portfolio`` and
the stages before it."""
