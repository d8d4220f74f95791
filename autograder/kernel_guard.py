"""Inside a student's kernel: notice attempts to reach the grader's files or the network.

The sandbox already blocks both; this records that a notebook *tried*, so the
grader can score it 0 with the reason. The grader's first cell runs this file's
source in the kernel and calls ``install``: a Python audit hook (PEP 578),
which no code can remove once added, watches file opens, links, renames,
deletions, commands run and network look-ups and connections. The grader's last
cell asks for the attempts with ``sys.audit(REPORT_EVENT, box)``.

Its state lives only in the hook's closure, which nothing in the kernel
references but the interpreter. The hook refuses what would reach that state or
its report (another audit hook, the garbage collector's object lists), and
notes the try.

A path counts when it lies under one of the protected folders (the course's
``source/``, the grading workspace) and outside the notebook's own folder.
Listing a folder does not count: only what reads, writes or points at a file.
The hook must never break the code it watches: it swallows its own errors.
"""

import os
import socket
import sys

REPORT_EVENT = "course.integrity.attempts"
MAX_ATTEMPTS = 20
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
CHANGES = {"os.remove": "delete", "os.rmdir": "delete", "os.truncate": "change", "os.chmod": "change",
           "os.chown": "change", "os.utime": "change", "os.mkdir": "write into"}
COMMANDS = {"subprocess.Popen": 1, "os.exec": 1, "os.posix_spawn": 1, "os.spawn": 2}
LOOK_UPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"}
# Events the hook refuses (it raises), because they reach its own state or the report.
REFUSED = {"sys.addaudithook": "add an audit hook", "gc.get_objects": "list the interpreter's objects",
           "gc.get_referrers": "list the interpreter's objects", "gc.get_referents": "list the interpreter's objects"}


class Refused(RuntimeError):
    """What a refused event raises in the student's code."""


def make_hook(protected, own_folder):
    """The audit hook: it appends one line per kind of attempt to its own list."""
    realpath, abspath, join, fsdecode = os.path.realpath, os.path.abspath, os.path.join, os.fsdecode
    isabs, dirname = os.path.isabs, os.path.dirname

    def canonical(path):
        """The file a path names: links (/proc/self/root, /proc/self/cwd...) resolved, one leading slash."""
        return join("/" + realpath(path).lstrip("/"), "")

    own = canonical(own_folder)
    roots = tuple({canonical(p) for p in protected})
    attempts = []

    def grader_file(path, relative_to=None):
        """The path if it is one of the grader's files, else None."""
        if isinstance(path, int) or path is None:
            return None
        path = fsdecode(path)
        if relative_to is not None and not isabs(path):
            path = join(relative_to, path)
        full = canonical(path)
        return full.rstrip("/") if full.startswith(roots) and not full.startswith(own) else None

    def note(verb, path):
        if path is not None:
            line = f"tried to {verb} {path}"
            if line not in attempts and len(attempts) < MAX_ATTEMPTS:
                attempts.append(line)

    def opened(args):
        path, mode, flags = (list(args) + [None, None, 0])[:3]
        writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & WRITE_FLAGS)
        note("write to" if writes else "read", grader_file(path))

    def command(argv):
        words = argv.split() if isinstance(argv, (str, bytes)) else list(argv or [])
        for word in words:
            if isinstance(word, (str, bytes, os.PathLike)):
                note("run a command on", grader_file(word))

    def network(event, args):
        if event in LOOK_UPS:
            host = args[0].decode() if isinstance(args[0], bytes) else args[0]
            if isinstance(host, str) and host not in LOCAL_HOSTS:
                note("look up the network address of", host)
        elif getattr(args[0], "family", None) in (socket.AF_INET, socket.AF_INET6):
            note("open a network connection to", str(args[1]))

    def hook(event, args):
        if event in REFUSED:
            note(REFUSED[event], "(refused)")
            raise Refused(f"the grader does not allow this while grading: {event}")
        try:
            if event == REPORT_EVENT:
                args[0].extend(attempts)
            elif event == "open":
                opened(args)
            elif event == "os.symlink":
                note("link to", grader_file(args[0], relative_to=dirname(abspath(fsdecode(args[1])))))
                note("write to", grader_file(args[1]))
            elif event in ("os.link", "os.rename"):
                note("link to" if event == "os.link" else "move", grader_file(args[0]))
                note("write to", grader_file(args[1]))
            elif event in CHANGES:
                note(CHANGES[event], grader_file(args[0]))
            elif event in COMMANDS:
                command(args[COMMANDS[event]])
            elif event == "os.system":
                command(args[0])
            elif event in LOOK_UPS or event in ("socket.connect", "socket.sendto"):
                network(event, args)
        except Exception:  # noqa: BLE001 -- a watcher that raised would break the student's code
            pass

    return hook


def install(protected):
    """Watch from now on; the notebook's own folder is the kernel's working folder."""
    sys.addaudithook(make_hook(protected, os.getcwd()))
