"""Inside the checker kernel: the student's names as proxies, over the kernel protocol.

The grader runs every test cell in this kernel (autograder/checker.py). Before
each, ``prepare`` runs the course's own definitions the tests use (imports,
helper functions, constants) and binds every other name the test uses, that
the student's notebook defines, to what it is in the student's kernel at that
point: plain data is copied, anything else becomes a ``Handle``. Calling a
handle, reading its attributes or indexing it sends the inputs to the student's
kernel (``execute_request`` on its shell channel, answered by
autograder/student_agent.py) and waits for the reply, at most the cell time
limit; the checker's own functions passed to the student's code are called back
over the kernel's stdin channel.

Everything that comes back is decoded by autograder/plain_data.py, strictly:
exact builtin types and arrays rebuilt from their bytes, a size limit before
anything is parsed. An exception of the student's code comes back as its type
name and message, and is raised here as that builtin exception (or a
``StudentError``), so a test's ``except ValueError`` and the feedback work as
they would in one kernel. The test's code, its expected values and its verdict
never leave this kernel.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import zmq
from jupyter_client.session import Session

from autograder import plain_data, student_agent

HEARTBEAT_SECONDS = 5
RECOVERY_SECONDS = 10  # how long an interrupted student's code may take to give the agent back
MAX_ITERATOR_ITEMS = 1_000_000
RECEIVE_QUEUE = 8  # messages a socket holds unread: the conversation has one in flight
SESSION: "StudentKernel | None" = None


class StudentError(Exception):
    """An error of the student's code whose type is not a builtin one (its name is in the message)."""


class StudentKernelError(RuntimeError):
    """The student's kernel did not answer as it should: it timed out, died or sent something unreadable."""


class CallTimeout(StudentKernelError):
    pass


def raised_by_student(name: str, message: str) -> Exception:
    error = student_agent.exception_named(name, message)
    return StudentError(f"{name}: {message}") if type(error) is RuntimeError and name != "RuntimeError" else error


class Handle:
    """An object that stays in the student's kernel: its calls, attributes and items are proxied.

    A handle equals only itself, is not iterable and is no number or array, so a
    value the student's code did not send as plain data can pass no comparison."""

    __slots__ = ("_kernel", "_number", "_type")
    __iter__ = None

    def __init__(self, kernel: "StudentKernel", number: int, type_name: str):
        object.__setattr__(self, "_kernel", kernel)
        object.__setattr__(self, "_number", number)
        object.__setattr__(self, "_type", type_name)

    def __getattr__(self, name: str):
        if name.startswith("_"):  # NumPy, IPython and copy look for special names: none is proxied
            raise AttributeError(name)
        return self._kernel.request(["getattr", self, name])

    def __setattr__(self, name, value):
        raise AttributeError("the checker does not change objects of the student's kernel")

    def __call__(self, *args, **kwargs):
        return self._kernel.call(self, args, kwargs)

    def __getitem__(self, key):
        return self._kernel.request(["getitem", self, key])

    def __repr__(self) -> str:
        return f"<{self._type} in the student's kernel>"


class RngState:
    """A NumPy generator's state as the student's code left it."""

    def __init__(self, state):
        self.state = state


def update_in_place(target, new) -> None:
    """Make an argument the checker passed what the student's code left it as."""
    if type(target) is list and type(new) is list:
        if len(target) == len(new):
            for index, (old, value) in enumerate(zip(target, new)):
                if type(old) in (list, dict, np.ndarray) and type(old) is type(value):
                    update_in_place(old, value)
                elif old is not value and not same(old, value):
                    target[index] = value
        else:
            target[:] = new
    elif type(target) in (dict, Counter) and type(new) in (dict, Counter):
        if not same(target, new):
            target.clear()
            target.update(new)
    elif type(target) is np.ndarray and type(new) is np.ndarray:
        if target.shape == new.shape and not np.array_equal(target, new, equal_nan=target.dtype.kind in "fc"):
            target[...] = new
    elif isinstance(target, np.random.Generator) and type(new) is RngState:
        target.bit_generator.state = new.state


def same(a, b) -> bool:
    try:
        return bool(type(a) is type(b) and a == b)
    except Exception:  # arrays inside: compare them by replacing
        return False


class StudentKernel:
    """The checker's client of the student's kernel: its own sockets, the kernel's key."""

    def __init__(self, connection: dict, timeout: float, limit: int = plain_data.DEFAULT_LIMIT):
        self.timeout = timeout
        self.limit = limit
        self.connection = connection
        self.session = Session(key=connection["key"].encode(), signature_scheme=connection["signature_scheme"])
        self.context = zmq.Context.instance()  # never terminated by the garbage collector while sockets are open
        self.shell = self.socket(zmq.DEALER, "shell_port")
        self.stdin = self.socket(zmq.DEALER, "stdin_port")
        self.control = self.socket(zmq.DEALER, "control_port")
        self.callbacks: dict[int, object] = {}  # the checker's functions passed in the call under way
        self.callbacks_made = 0
        self.arguments: tuple[list, dict] = ([], {})
        self.busy = False
        self.installed = False
        self.loop_id: str | None = None  # the execute request the agent's loop runs in
        self.pending: dict | None = None  # its input request that waits for the checker's next request
        self.stuck = False
        self.call_seconds: list[float] = []  # how long each request took, round trip (benchmarks/)

    def url(self, port_name: str) -> str:
        port = self.connection[port_name]
        if self.connection["transport"] == "ipc":
            return f"ipc://{self.connection['ip']}-{port}"
        return f"tcp://{self.connection['ip']}:{port}"

    def socket(self, kind, port_name: str):
        socket = self.context.socket(kind)
        socket.linger = 0
        socket.setsockopt(zmq.IDENTITY, self.session.bsession)  # stdin requests come to the shell's identity
        socket.setsockopt(zmq.MAXMSGSIZE, self.limit + 2**20)  # a larger message is dropped unread
        socket.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)  # a flood of messages is dropped, not held in memory
        socket.connect(self.url(port_name))
        return socket

    def close(self) -> None:
        for socket in (self.shell, self.stdin, self.control):
            socket.close(linger=0)

    # --- the protocol --------------------------------------------------------
    def alive(self) -> bool:
        """Whether the kernel answers its heartbeat (it does while busy, unless it died)."""
        beat = self.context.socket(zmq.REQ)
        beat.linger = 0
        try:
            beat.connect(self.url("hb_port"))
            beat.send(b"ping")
            return bool(beat.poll(HEARTBEAT_SECONDS * 1000))
        finally:
            beat.close()

    def receive(self, socket) -> dict | None:
        try:
            _, message = self.session.recv(socket, mode=zmq.NOBLOCK)
        except Exception:  # an unsigned, malformed or oversized message: as if never sent
            return None
        return message

    def interrupt(self) -> None:
        self.session.send(self.control, "interrupt_request", {})

    def wait(self, msg_id: str, deadline: float) -> tuple[str, dict]:
        """The next input request or the execute reply of the request ``msg_id``: ("input"|"reply", message)."""
        poller = zmq.Poller()
        poller.register(self.shell, zmq.POLLIN)
        poller.register(self.stdin, zmq.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CallTimeout(f"the student's code ran over the cell time limit ({self.timeout:g} s)")
            ready = dict(poller.poll(min(left, 1.0) * 1000))
            if not ready and not self.alive():
                raise StudentKernelError("the student's kernel died during the call")
            for socket, kind in ((self.stdin, "input"), (self.shell, "reply")):
                message = self.receive(socket) if socket in ready else None
                if message and message.get("parent_header", {}).get("msg_id") == msg_id:
                    if (kind, message.get("msg_type")) in (("input", "input_request"), ("reply", "execute_reply")):
                        return kind, message

    def start_serving(self) -> None:
        """Start the agent's loop in the student's kernel: one execute request that then answers
        each of the checker's requests over the stdin channel, until ``finish``."""
        if self.stuck:
            raise StudentKernelError("the student's kernel is still busy with code that did not stop when interrupted")
        code = student_agent.SERVE_CODE
        if not self.installed:
            folder = Path(__file__).parent
            code = student_agent.install_code((folder / "plain_data.py").read_text(),
                                              (folder / "student_agent.py").read_text(), self.limit) + "\n" + code
        content = {"code": code, "silent": True, "store_history": False, "allow_stdin": True,
                   "user_expressions": {}, "stop_on_error": False}
        self.loop_id = self.session.send(self.shell, "execute_request", content)["header"]["msg_id"]
        kind, message = self.wait(self.loop_id, time.monotonic() + self.timeout)
        if kind != "input" or message.get("content", {}).get("prompt") != student_agent.READY:
            self.loop_id = None
            raise StudentKernelError("the student's kernel did not start answering the checker")
        self.installed, self.pending = True, message

    def exchange(self, text: str) -> str:
        """Send one request's text to the agent's loop; its reply's text (callbacks answered on the way)."""
        if self.pending is None:
            self.start_serving()
        self.answer(self.pending, text)
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                kind, message = self.wait(self.loop_id, deadline)
                prompt = message.get("content", {}).get("prompt")
                if kind == "reply" or type(prompt) is not str:
                    self.loop_id = None
                    raise StudentKernelError("the student's kernel stopped answering the checker")
                if prompt.startswith(student_agent.CALLBACK_PREFIX):
                    self.answer(message, self.call_back(prompt[len(student_agent.CALLBACK_PREFIX):]))
                elif prompt.startswith(student_agent.REPLY_PREFIX):
                    self.pending = message
                    return prompt[len(student_agent.REPLY_PREFIX):]
                else:
                    raise StudentKernelError("the student's kernel sent a reply that is not one")
        except (CallTimeout, KeyboardInterrupt):  # over the limit, or the grader stops the test: stop the student too
            self.interrupt()
            self.recover()
            raise

    def answer(self, request: dict, value: str) -> None:
        self.pending = None
        self.session.send(self.stdin, "input_reply", {"value": value, "status": "ok"}, parent=request)

    def recover(self) -> None:
        """After an interrupt: the loop answers again (its reply to the stopped call is dropped),
        or it ended, or the student's code ignores interrupts and the kernel is stuck."""
        try:
            kind, message = self.wait(self.loop_id, time.monotonic() + RECOVERY_SECONDS)
        except (StudentKernelError, KeyboardInterrupt):
            self.stuck, self.loop_id = True, None
            return
        if kind == "input":
            self.pending = message
        else:
            self.loop_id = None

    def finish(self) -> None:
        """End the agent's loop, so that the student's kernel can run the notebook's next cell."""
        if self.pending is None:
            return
        self.answer(self.pending, student_agent.STOP)
        try:
            self.wait(self.loop_id, time.monotonic() + self.timeout)
        finally:
            self.loop_id = None

    # --- requests -----------------------------------------------------------
    def request(self, request: list, arguments: tuple = ()):
        """Send one request; its result, with the arguments updated as the student's code left them."""
        if self.busy:
            raise StudentKernelError("a function of the test used the student's code while the student's code "
                                     "was calling it: the checker cannot do that")
        self.callbacks, self.arguments = {}, arguments or ([], {})
        self.busy = True
        started = time.perf_counter()
        try:
            outcome = self.decode(self.exchange(self.encode(request)))
        finally:
            self.busy = False
            self.call_seconds.append(time.perf_counter() - started)
        if type(outcome) is not list or not outcome or type(outcome[0]) is not str:
            raise StudentKernelError("the student's kernel sent a reply that is not one")
        if outcome[0] == "ok" and len(outcome) == 3:
            self.write_back(arguments, outcome[2])
            return outcome[1]
        if outcome[0] == "raised" and len(outcome) == 3 and all(type(part) is str for part in outcome[1:]):
            raise raised_by_student(outcome[1][:100], outcome[2][:student_agent.MAX_MESSAGE])
        if outcome[0] == "refused" and len(outcome) == 2 and type(outcome[1]) is str:
            raise StudentKernelError(f"the student's kernel could not answer: {outcome[1][:student_agent.MAX_MESSAGE]}")
        raise StudentKernelError("the student's kernel sent a reply that is not one")

    def call(self, target: Handle, args: tuple, kwargs: dict):
        args, kwargs = list(args), dict(kwargs)
        return self.request(["call", target, args, kwargs], (args, kwargs))

    def resolve(self, names: list[str]) -> dict:
        found = self.request(["resolve", list(names)])
        if type(found) is not dict or not all(type(name) is str for name in found):
            raise StudentKernelError("the student's kernel sent names that are not names")
        return found

    def write_back(self, arguments, after) -> None:
        if not arguments or type(after) is not list or len(after) != 2:
            return
        (args, kwargs), (args_after, kwargs_after) = arguments, after
        if type(args_after) is list and len(args_after) == len(args):
            for target, new in zip(args, args_after):
                update_in_place(target, new)
        if type(kwargs_after) is dict:
            for name, new in kwargs_after.items():
                if name in kwargs:
                    update_in_place(kwargs[name], new)

    # --- values -------------------------------------------------------------
    def other(self, value, encode_item):
        """How the checker's values that are not plain data go to the student's kernel."""
        if type(value) is Handle:
            if value._kernel is not self:
                raise plain_data.NotPlain("a handle of another kernel")
            return ["handle", value._number]
        if isinstance(value, np.random.Generator):
            return ["rng", type(value.bit_generator).__name__, encode_item(value.bit_generator.state)]
        if callable(value) and not isinstance(value, type):
            number = self.callbacks_made
            self.callbacks_made += 1
            self.callbacks[number] = value
            return ["callback", number]
        if hasattr(value, "__next__"):  # the test's own iterator (a generator of inputs): its items
            items = []
            for item in value:
                items.append(item)
                if len(items) > MAX_ITERATOR_ITEMS:
                    raise plain_data.TooLarge(f"an iterator of more than {MAX_ITERATOR_ITEMS:,} items")
            return ["iterator", encode_item(items)]
        kind = type(value)
        raise plain_data.NotPlain(f"a {kind.__module__}.{kind.__qualname__} cannot be passed to the student's code "
                                  "(only plain data, the student's own objects and functions)")

    def encode(self, value) -> str:
        try:
            return plain_data.encode(value, other=self.other, limit=self.limit)
        except plain_data.PlainDataError as error:
            raise TypeError(str(error)) from None

    def extras(self) -> dict:
        def handle(payload, decode_item):
            if len(payload) != 2 or type(payload[0]) is not int or type(payload[1]) is not str:
                raise plain_data.PlainDataError("a malformed handle")
            return Handle(self, payload[0], payload[1][:200])

        def rng(payload, decode_item):
            if len(payload) != 2:
                raise plain_data.PlainDataError("a malformed generator state")
            return RngState(decode_item(payload[1]))

        def argument(payload, decode_item):
            args, kwargs = self.arguments
            key = payload[0] if len(payload) == 1 else None
            if type(key) is int and 0 <= key < len(args):
                return args[key]
            raise plain_data.PlainDataError("a reference to an argument that was not passed")

        def keyword(payload, decode_item):
            args, kwargs = self.arguments
            key = payload[0] if len(payload) == 1 else None
            if type(key) is str and key in kwargs:
                return kwargs[key]
            raise plain_data.PlainDataError("a reference to an argument that was not passed")

        return {"handle": handle, "rng": rng, "arg": argument, "kwarg": keyword}

    def decode(self, text: str):
        try:
            return plain_data.decode(text, extras=self.extras(), limit=self.limit)
        except plain_data.PlainDataError as error:
            raise StudentKernelError(f"the student's kernel sent data the checker refuses: {error}") from None

    def call_back(self, prompt: str) -> str:
        """Run one of the checker's functions the student's code calls; the reply's text."""
        try:
            request = plain_data.decode(prompt, extras=self.extras(), limit=self.limit)
            if (type(request) is not list or len(request) != 4 or request[0] != "callback"
                    or type(request[1]) is not int or request[1] not in self.callbacks
                    or type(request[2]) is not list or type(request[3]) is not dict
                    or not all(type(k) is str for k in request[3])):
                raise ValueError("not a call of the checker's functions")
            function = self.callbacks[request[1]]
            result = function(*request[2], **request[3])
            return plain_data.encode(["ok", result], other=self.other, limit=self.limit)
        except Exception as error:
            return plain_data.encode(["raised", type(error).__name__, str(error)[:student_agent.MAX_MESSAGE]])


class Unavailable:
    """A name the student's kernel could not be asked about: using it fails with the reason."""

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason

    def __call__(self, *args, **kwargs):
        raise StudentKernelError(f"{self.name}: {self.reason}")

    def __getattr__(self, attribute):
        raise StudentKernelError(f"{object.__getattribute__(self, 'name')}: {object.__getattribute__(self, 'reason')}")


def connect(connection: dict, timeout: float, limit: int = plain_data.DEFAULT_LIMIT) -> None:
    """Called once by the grader: how to reach the student's kernel."""
    global SESSION
    SESSION = StudentKernel(connection, timeout, limit)


def prepare(course_code: str, names: list[str]) -> None:
    """Before a test cell: the course's definitions it needs, then the student's names it uses."""
    namespace = __import__("IPython").get_ipython().user_ns
    if course_code:
        exec(compile(course_code, "<course definitions>", "exec"), namespace)
    try:
        found = SESSION.resolve(names)
    except (StudentKernelError, TypeError) as error:
        namespace.update({name: Unavailable(name, str(error)) for name in names})
        return
    for name in names:
        if name in found:
            namespace[name] = found[name]
        else:
            namespace.pop(name, None)


def finish() -> None:
    """After a test cell: give the student's kernel back to the notebook."""
    try:
        SESSION.finish()
    except StudentKernelError:
        pass


def statistics() -> dict:
    """How many requests the tests made of the student's kernel, and how long they took (benchmarks/)."""
    seconds = sorted(SESSION.call_seconds) if SESSION else []
    return {"calls": len(seconds), "total_s": round(sum(seconds), 4),
            "median_ms": round(1000 * seconds[len(seconds) // 2], 4) if seconds else None}
