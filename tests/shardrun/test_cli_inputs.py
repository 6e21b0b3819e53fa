"""Bad command-line inputs get one line naming the option and the file, and exit 2; no
shard is marked running."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.shardrun.conftest import REPO


@pytest.mark.parametrize(("content", "said"), [
    (None, "--tap-config {path}: cannot read it (No such file or directory)"),
    ("{bad", "--tap-config {path}: not valid JSON (Expecting property name"),
    ("[1]", "--tap-config {path}: expected a JSON object, got list"),
])
def test_an_unusable_config_file_is_named(tmp_path, content, said):
    config = tmp_path / "tap.json"
    if content is not None:
        config.write_text(content)
    (tmp_path / "target.json").write_text("{}")
    done = subprocess.run(
        [sys.executable, "-m", "shardrun", "run", "--shards", "2", "--executor", "threads",
         "--work-dir", str(tmp_path / "work"), "--tap", "tap-vendory", "--target",
         "target-parquet", "--tap-config", str(config), "--target-config",
         str(tmp_path / "target.json")],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("shardrun: error: " + said.format(path=config)), done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "work" / "manifest.json").exists()


def test_a_missing_state_file_is_named(tmp_path):
    missing = tmp_path / "old-1.json"
    done = subprocess.run([sys.executable, "-m", "shardrun", "merge-state", str(missing)],
                          cwd=REPO, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 2
    assert done.stderr == (f"shardrun: error: state file {missing}: cannot read it "
                           "(No such file or directory)\n")
