"""``keysweep audit``: the history scan of many repositories, one task per repository.

    inputs (paths, URLs, --repos-file, directories of repositories)  ->  RepoSpec
        ->  engine (local process pool | Dask cluster) runs ``task.run_isolated`` per spec
        ->  RepoOutcome (redacted findings unless --show-secrets)  ->  store (DIR/repos/*.json)
        ->  consolidate (one ScanResult + per-repository summary + totals)

Each task runs exactly what ``keysweep history REPO`` runs (:meth:`Project.scan_history`, the
repository's own config and baseline), in a child process of its own so that a crash, a hang
(``--repo-timeout``) or a corrupt repository fails that repository only. Engines are behind one
small protocol (:class:`scanner.audit.engines.Engine`) and registered in ``ENGINES``.
"""

from __future__ import annotations
