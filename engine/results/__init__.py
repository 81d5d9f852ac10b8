"""Run folders written (``runfolder``, ``sweepfolder``, claims in ``claims``) and read back
(``reader``), comparisons (``compare``) and how they and the run listing look
(``runs_display``), the HTML reports (the ``report`` package: run, event, claims and sweep
pages), tables for terminals and files (``display``, ``summary_tables``) and what each command
prints (``console``).  May use every stage before it; never calls back into the pipeline."""
