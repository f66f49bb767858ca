"""The scanned project for a command: :mod:`scanner.project` (below the CLI, so ``audit``
tasks share it), re-exported here for the commands."""

from __future__ import annotations

from scanner.project import Project as Project
from scanner.project import load_project as load_project
from scanner.project import project_config as project_config
from scanner.project import project_root as project_root
