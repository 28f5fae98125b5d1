"""Study: the pruning study end to end, resumable, from one config to one report.

``experiments`` (the registry: each experiment's grid, defaults and figure),
``grids`` (the planners), ``config`` (the study YAML, validated), ``plan``
(every run, deduplicated), ``execute`` (run kinds: dense, prune, scratch, rewind,
SNIP training), ``executors`` and ``ray_executor`` (where the runs compute: this
process or Ray tasks), ``lock`` (one driver per study directory), ``store``
(SQLite, one row per run), ``attention`` (alignment data for its figure),
``runner`` (``nmtprune study``), ``figures`` (one
module per kind of figure), ``report`` (``report.md`` and ``report.html``).
"""
