import pytest


@pytest.fixture(autouse=True)
def isolated_jupyter(tmp_path, monkeypatch):
    """Connection files and kernelspecs of a test stay in its tmp dir."""
    for name in ("RUNTIME", "DATA", "CONFIG"):
        directory = tmp_path / f"jupyter-{name.lower()}"
        directory.mkdir()
        monkeypatch.setenv(f"JUPYTER_{name}_DIR", str(directory))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.chdir(tmp_path)
