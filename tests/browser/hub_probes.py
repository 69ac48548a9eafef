"""What another user tries on the hub: Python programs test_hub.py runs as a real student's uid.

Each prints one JSON object.  Attempts report "allowed" or the error's type; listeners report
every endpoint they found and every message they received.
"""

# The start of every attempting probe: attempt(fn) is "allowed" or the error's type.
ATTEMPT = r"""
import json, os, sys
def attempt(fn):
    try:
        fn()
        return "allowed"
    except OSError as exc:
        return type(exc).__name__
"""

# Every means this machine offers to reach another user's running kernel: its TCP listeners
# (/proc/net/tcp, ss), every Unix socket bound on the machine (/proc/net/unix, ss), the
# connection files named on its processes' command lines and the folders holding them, and
# ZeroMQ subscribers (IOPub) and dealers (shell, control, stdin) on all of them, listening
# for `seconds`.  argv: victim uid, victim home, seconds.
KERNEL_CHANNELS = ATTEMPT + r"""
import glob, re, socket, subprocess, time, urllib.request
import zmq

victim, home, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])

ports = set()
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(table).read().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[7]) == victim:          # LISTEN, the victim's uid
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
ss = subprocess.run(["ss", "-H", "-l", "-n", "-x", "-t"], capture_output=True, text=True).stdout
bound = {line.split()[7] for line in open("/proc/net/unix").read().splitlines()[1:]
         if len(line.split()) > 7 and line.split()[7].startswith("/")}
bound |= set(re.findall(r"(/\S+)", ss))

files, folders = set(), set(glob.glob(os.path.join(home, ".local/share/jupyter/runtime")))
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if os.stat(f"/proc/{pid}").st_uid != victim:
            continue
        args = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace").split("\0")
    except OSError:
        continue
    for arg in args:
        for path in re.findall(r"(/\S+\.json)", arg):
            files.add(path)
            folders.add(os.path.dirname(path))

def mine(path):
    try:
        return os.stat(os.path.dirname(path)).st_uid == os.getuid()
    except OSError:
        return False

candidates = sorted(p for p in bound if ("kernel" in p or os.path.dirname(p) in folders) and not mine(p))

REQUEST = json.dumps({"msg_id": "probe", "msg_type": "kernel_info_request", "session": "probe",
                      "username": "probe", "version": "5.3"}).encode()
ctx = zmq.Context()
sockets = []
for endpoint in [f"tcp://127.0.0.1:{p}" for p in sorted(ports)] + [f"ipc://{p}" for p in candidates]:
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoint)
    dealer = ctx.socket(zmq.DEALER)            # shell, control, stdin: ask the kernel for its info
    dealer.connect(endpoint)
    try:
        dealer.send_multipart([b"<IDS|MSG>", b"", REQUEST, b"{}", b"{}", b"{}"], flags=zmq.NOBLOCK)
    except zmq.Again:
        pass
    sockets += [sub, dealer]
poller = zmq.Poller()
for s in sockets:
    poller.register(s, zmq.POLLIN)
received, deadline = [], time.monotonic() + seconds
while time.monotonic() < deadline:
    for s, _ in poller.poll(200):
        received.append(b" ".join(s.recv_multipart()).decode(errors="replace")[:300])

def http(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernels", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except Exception as exc:                    # a ZeroMQ port does not speak HTTP
        return type(exc).__name__

def unix_connect(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)

print(json.dumps({
    "tcp ports": sorted(ports),
    "kernel sockets": candidates,
    "connection files": {p: attempt(lambda p=p: open(p).read()) for p in sorted(files)},
    "runtime folders": {p: attempt(lambda p=p: os.listdir(p)) for p in sorted(folders)},
    "unix connect": {p: attempt(lambda p=p: unix_connect(p)) for p in candidates},
    "http": {str(p): http(p) for p in sorted(ports)},
    "received": received,
}))
"""

# Reads every file and lists every folder named in the file argv[1] (one path a line).
READ_ALL = r"""
import json, os, sys
out = {}
for path in open(sys.argv[1]).read().splitlines():
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as fh:
                fh.read(1)
        out[path] = "allowed"
    except OSError as exc:
        out[path] = type(exc).__name__
print(json.dumps(out))
"""

# The student's own check of the released notebook's first exercise, in its folder (argv[1]).
SELF_CHECK = r"""
import contextlib, io, json, math, os, sys
import torch
from autograder import check
os.chdir(sys.argv[1])
def jacobian_by_hand(p):
    x, y = float(p[0]), float(p[1])
    return torch.tensor([[2 * x, 1.0], [y, x], [math.exp(x), 0.0]])
def transposed(p):
    x, y = float(p[0]), float(p[1])
    return torch.tensor([[2 * x, y, math.exp(x)], [1.0, x, 0.0]])
results = {}
for name, fn in (("right", jacobian_by_hand), ("transposed", transposed)):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        score = check("jacobian_by_hand", fn)
    results[name] = {"score": None if score is None else float(score), "printed": printed.getvalue()}
print(json.dumps(results))
"""
