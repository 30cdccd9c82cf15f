"""Write conda's records for a virtual environment, so it looks like a conda env.

    python conda_meta.py PREFIX CMD [REQUESTED_SPEC...]

Run by the environment's own python. Writes conda-meta/<name>-<version>-<build>.json for the
interpreter and every distribution installed in PREFIX, then appends CMD to conda-meta/history,
last: its presence marks a finished environment. Specs requested before (by earlier records)
stay requested, as with conda. $JLHPC_CONDA_META_EXTRA may hold a JSON list of more records to
write (the test installer's own `conda` package). conda itself is on none of the registries the
test machines reach; jupyterlab-hpc reads exactly these files (see FACTS.md).

Used by tests/cluster/demo-cluster.sh (the cluster user's envs), local-conda-env.sh ("This
computer" of the demo and the UI tests) and the Miniforge test installer
(tests/fixtures/miniforge, which gets this file put in when it is served).
"""
import json, os, re, sys, time
from importlib import metadata
try:
    from pip._vendor.packaging.requirements import Requirement
except ImportError:
    Requirement = None

prefix, cmd, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
extra = json.loads(os.environ.get("JLHPC_CONDA_META_EXTRA") or "[]")
meta = os.path.join(prefix, "conda-meta")
os.makedirs(meta, exist_ok=True)
requested = set(specs)
for f in os.listdir(meta):
    if f.endswith(".json"):
        try:
            with open(os.path.join(meta, f)) as fh:
                rec = json.load(fh)
            if rec.get("requested_spec"):
                requested.add(rec["name"])
        except (OSError, ValueError):
            pass
        os.remove(os.path.join(meta, f))
now = int(time.time() * 1000)
py = "%d.%d.%d" % sys.version_info[:3]
note = "conda-layout record written by tests/cluster/conda_meta.py; installed by pip into a venv"

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

def depends(dist):
    out = []
    rp = dist.metadata.get("Requires-Python")
    out.append("python " + rp.replace(" ", "") if rp else "python")
    for line in dist.requires or []:
        if Requirement is None:
            continue
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        spec = str(req.specifier)
        out.append(norm(req.name) + (" " + spec if spec else ""))
    return out

def files(dist):
    out = []
    for f in dist.files or []:
        p = os.path.normpath(os.path.abspath(str(dist.locate_file(f))))
        out.append(os.path.relpath(p, prefix))
    return sorted(out)

records = [{
    "name": "python", "version": py, "build": "0_cpython", "build_number": 0,
    "channel": "debian", "subdir": "linux-64", "fn": "python-%s-0_cpython.conda" % py,
    "url": "", "md5": "", "size": 0, "timestamp": now, "depends": [], "constrains": [],
    "files": sorted("bin/" + f for f in os.listdir(os.path.join(prefix, "bin")) if f.startswith("python")),
    "requested_spec": "python", "jupyterlab_hpc_test": note,
}]
seen = set()
for dist in metadata.distributions(path=[p for p in sys.path if p.startswith(prefix)]):
    name = norm(dist.metadata["Name"])
    if name in seen:
        continue
    seen.add(name)
    fl = files(dist)
    native = any(f.endswith(".so") for f in fl)
    rec = {
        "name": name, "version": dist.version, "build": "pypi_0", "build_number": 0,
        "channel": "pypi", "subdir": "linux-64" if native else "noarch",
        "fn": "%s-%s-pypi_0.conda" % (name, dist.version), "url": "", "md5": "", "size": 0,
        "timestamp": now, "depends": depends(dist), "constrains": [], "files": fl,
        "requested_spec": name if name in requested else "", "jupyterlab_hpc_test": note,
    }
    if not native:
        rec["noarch"] = "python"
    records.append(rec)
records += extra
for rec in records:
    path = os.path.join(meta, "%s-%s-%s.json" % (rec["name"], rec["version"], rec["build"]))
    with open(path, "w") as f:
        json.dump(rec, f, indent=2, sort_keys=True)
        f.write("\n")
lines = ["==> %s <==" % time.strftime("%Y-%m-%d %H:%M:%S"), "# cmd: " + cmd]
lines += ["+%s::%s" % (r["channel"], r["fn"][: -len(".conda")]) for r in records]
lines.append("# update specs: %s" % json.dumps(sorted(specs)))
history = os.path.join(meta, "history")
old = ""
if os.path.exists(history):
    with open(history) as f:
        old = f.read()
with open(history + ".tmp", "w") as f:
    f.write(old + "\n".join(lines) + "\n")
os.replace(history + ".tmp", history)
