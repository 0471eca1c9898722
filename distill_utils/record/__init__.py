"""The bookkeeping beside the lesson: which runs are the same run, and what made a result.

`runs` (the run cache: a finished run with the same key is read back instead of trained again),
`training_code` (the code a run's key follows), `recording` (how a recording was trained, in
parts), `provenance` (what made a result: library hash, packages, machine), `progress` (where a
long run is, told to the terminal, never to the page). The lesson (the package's top level)
imports none of it: its training functions train, and the chapters hand them a run cache
(`runs.cached_artifacts`).
"""
