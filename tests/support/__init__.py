"""What the tests share, one module per thing:

- :mod:`support.keys`: fake AWS credentials (key IDs, secrets, tokens, .env blocks) from seeds;
- :mod:`support.repo`: real git repositories built in a test directory;
- :mod:`support.run`: keysweep run in-process and as a subprocess, with a sealed environment;
- :mod:`support.fs`: directory-tree snapshots (keysweep never modifies what it scans);
- :mod:`support.moto_server`: the moto server on 127.0.0.1 and AWS test identities;
- :mod:`support.http_stub`: a scripted HTTP server on 127.0.0.1 for AWS failure modes;
- :mod:`support.samples`: sample scan results and report validators;
- :mod:`support.fuzz`: the git-parser fuzz targets (hypothesis here, atheris in bench/).
"""
