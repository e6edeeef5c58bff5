"""Version numbers under concurrency: real processes registering the same name at once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from aimass_lab import registry
from aimass_lab.workspace import Workspace

WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from aimass_lab import registry
    from aimass_lab.workspace import Workspace

    ws_path, db_url, folder, go, count = sys.argv[1:6]
    ws = Workspace(ws_path, db_url=db_url)
    registry.names(workspace=ws)  # connect before the start signal
    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.001)
    versions = [
        registry.register(folder, "race", aliases=["prod"], workspace=ws).version
        for _ in range(int(count))
    ]
    print(json.dumps(versions), flush=True)
    """
)


def test_processes_registering_one_name_get_distinct_versions(
    workspace: Workspace, model_dir: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    per_process, processes = 6, 3
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(workspace.path),
                workspace.db_url,
                str(model_dir),
                str(go),
                str(per_process),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
        go.touch()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    numbers = sorted(v for r in results for v in r)
    assert numbers == list(range(1, per_process * processes + 1))
    for r in results:
        assert r == sorted(r)  # each process sees its own versions grow
    versions = registry.list("race")
    assert [mv.version for mv in versions] == list(range(per_process * processes, 0, -1))
    # 'prod' points to exactly one version.
    assert sum("prod" in mv.aliases for mv in versions) == 1
    assert registry.verify("race:prod")["ok"]
