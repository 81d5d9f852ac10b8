"""The orchestration: the only package that knows every stage.

Baskets and a study in; prices gathered (``data``), aligned (``market``), simulated
(``portfolio``), measured (``analysis``) and written (``results``).  One room per command or
concept, each importing only the rooms before it in this list:

``study``     the study with command-line overrides, the event study's options, name checks
``listings``  a run's listings, resolved once and passed to every stage
``prices``    the prices a run or event study needs, fetched and checked; ``basket data fetch``
``draws``     matched random baskets: the universe read once, strata, draws, the kernel's check
``universe``  what ``--universe`` adds to a run: equal-weight pools and matched-null ranks
``events``    the event study of a run's baskets, and ``basket event`` on its own
``runs``      ``basket run``: the backtest, its summaries, its robustness and null rows
``sweep``     ``basket sweep``: themes against matched random baskets over a grid
``claims``    ``basket claims``: a report's figures checked against the data
``writing``   run folders out (any kind) and ``basket report``

The public calls are named in :mod:`engine` (``engine.run``, ``engine.write_run``, ...); this
package imports none of its rooms itself, so importing it costs nothing::

    from engine.config.baskets import load_basket
    from engine.config.studies import load_study
    from engine.data.csvfolder import CsvFolderSource
    from engine.pipeline.runs import run
    from engine.pipeline.study import resolve_study
    from engine.pipeline.writing import write_run

    study = resolve_study(load_study("baskets/studies/deepseek.yaml"), fees=0.0)
    baskets = [load_basket("baskets/domestic_chips.yaml")]
    result = run(baskets, study, CsvFolderSource("../shared/data/prices"))
    result.summary_frame()
    write_run(result, "results")
"""
