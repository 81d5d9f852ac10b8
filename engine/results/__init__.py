"""Run folders written (``runfolder``) and read back (``reader``), comparisons
(``compare``), the HTML report (``report``) and tables for terminals and files (``display``).
May use every stage before it; never calls back into the pipeline."""
