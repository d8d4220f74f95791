"""Inside a student's kernel while it is graded: answer the checker's requests.

The checker (autograder/checker_kernel.py) runs the test cells in a kernel of
its own. Before a test cell it starts ``serve`` here with one silent
``execute_request``; ``serve`` then asks for each request with ``input`` (the
kernel's stdin channel, answered by the checker) and sends each reply as the
prompt of the next ``input``, until the checker says stop after the cell. One
request costs a message each way, not a cell's execution. Requests carry only
inputs:

- ``["resolve", names]``: what each name is bound to now;
- ``["call", target, args, kwargs]``, ``["getattr", target, name]``,
  ``["getitem", target, key]``: use an object of this kernel.

Values go as plain data (autograder/plain_data.py). Anything else (a function,
a Keras layer, a generator) stays here, in ``objects``, and goes as a handle:
``["handle", id, type name]``. Tensors of TensorFlow, Keras or Torch become
arrays, their shapes tuples. A call's reply also holds its mutable arguments as the call left them
(so a test sees a function that changes its input), and a result that *is* one
of the arguments says so (so ``is not`` tests work). The checker's own
functions passed as arguments (a test's stand-in model) become stubs here that
ask the checker over the kernel's stdin channel (``input``).

Nothing here is trusted by the checker: a student may change any of it, and
the checker decodes every reply strictly. It is the honest side of the
conversation, and the limits it applies (a 10 GB result is refused before it
becomes bytes) are for clear messages, not for safety.
"""

import builtins
import io
import json
import sys
from collections import Counter

import numpy as np

if __name__ != "_course_checker_agent":  # imported by the grader, not sent to a student's kernel
    from autograder import plain_data

MODULE = "_course_checker_agent"
PLAIN_DATA_MODULE = "_course_plain_data"
READY = "course-checker-ready"
REPLY_PREFIX = "course-checker-reply:"
CALLBACK_PREFIX = "course-checker-callback:"
STOP = "course-checker-stop"
MAX_MESSAGE = 500
TENSOR_MODULES = ("tensorflow", "keras", "torch", "jax")
MUTABLE = (list, dict, Counter, np.ndarray)
CONTROL_FLOW = ("StopIteration", "StopAsyncIteration", "GeneratorExit")  # never raised in the checker as themselves


def exception_named(name: str, message: str) -> Exception:
    """The builtin exception of that name (so ``except ValueError`` works), else a RuntimeError. Exceptions
    that steer Python's own control flow (a StopIteration would quietly end a test's loop) are RuntimeErrors."""
    kind = getattr(builtins, name, None) if name.isidentifier() and name not in CONTROL_FLOW else None
    if isinstance(kind, type) and issubclass(kind, Exception):
        return kind(message)
    return RuntimeError(f"{name}: {message}")


def as_array(value):
    """A tensor as a NumPy array, an array subclass as a plain array; None for anything else."""
    module = type(value).__module__.split(".")[0]
    if module in TENSOR_MODULES and hasattr(value, "numpy") and hasattr(value, "dtype") and hasattr(value, "shape"):
        if "Variable" in type(value).__name__:
            return None  # a variable is used by its methods (assign): it stays a handle
        try:
            detached = value.detach().cpu() if module == "torch" else value
            return np.asarray(detached.numpy())
        except Exception:  # a symbolic tensor has no value: a handle, then
            return None
    if isinstance(value, np.ndarray) and type(value) is not np.ndarray:
        return value.view(np.ndarray)
    return None


def as_shape(value):
    """A tensor's shape (TensorFlow's TensorShape, Torch's Size) as a tuple of ints (None where unknown); None
    for anything else."""
    module = type(value).__module__.split(".")[0]
    if module not in TENSOR_MODULES or type(value).__name__ not in ("TensorShape", "Size"):
        return None
    try:
        dimensions = value.as_list() if hasattr(value, "as_list") else list(value)
    except Exception:  # a shape of unknown rank: a handle, then
        return None
    return tuple(d if d is None else int(d) for d in dimensions)


def described(error: BaseException) -> list:
    return ["raised", type(error).__name__, str(error)[:MAX_MESSAGE]]


class Discard(io.TextIOBase):
    """A text stream that keeps nothing."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


class Agent:
    def __init__(self, namespace: dict, limit: int = plain_data.DEFAULT_LIMIT):
        self.namespace = namespace
        self.limit = limit
        self.objects: dict[int, object] = {}

    # --- values out --------------------------------------------------------
    def handle(self, value, encode_item):
        plain = as_array(value)
        if plain is None:
            plain = as_shape(value)
        if plain is not None:
            return encode_item(plain)
        if isinstance(value, np.random.Generator):
            return ["rng", type(value.bit_generator).__name__, encode_item(value.bit_generator.state)]
        number = len(self.objects)
        self.objects[number] = value
        kind = type(value)
        return ["handle", number, f"{kind.__module__}.{kind.__qualname__}"[:200]]

    def encode(self, value, known=None) -> str:
        return plain_data.encode(value, other=self.handle, limit=self.limit, known=known)

    # --- values in ---------------------------------------------------------
    def extras(self) -> dict:
        def handle(payload, decode_item):
            return self.objects[payload[0]]

        def callback(payload, decode_item):
            return self.stub(payload[0])

        def rng(payload, decode_item):
            generator = np.random.Generator(getattr(np.random, payload[0])())
            generator.bit_generator.state = decode_item(payload[1])
            return generator

        def iterator(payload, decode_item):
            return iter(decode_item(payload[0]))

        return {"handle": handle, "callback": callback, "rng": rng, "iterator": iterator}

    def decode(self, text: str):
        return plain_data.decode(text, extras=self.extras(), limit=self.limit)

    def stub(self, number: int):
        """A function of this kernel that calls the checker's function ``number``."""
        def checker_function(*args, **kwargs):
            answer = builtins.input(CALLBACK_PREFIX + self.encode(["callback", number, list(args), kwargs]))
            outcome = self.decode(answer)
            if outcome[0] == "ok":
                return outcome[1]
            raise exception_named(outcome[1], outcome[2])
        return checker_function

    # --- requests ----------------------------------------------------------
    def serve(self) -> None:
        """Answer the checker's requests, each the reply to the prompt that carried the last answer,
        until it says stop. What the student's code prints meanwhile goes nowhere: no one would see it (the
        test's output is the checker's), and the kernel's input() then has no output to flush each time."""
        shown = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = Discard()
        try:
            reply = READY
            while True:
                request = builtins.input(reply)
                if request == STOP:
                    return
                reply = REPLY_PREFIX + self.reply_to(request)
        finally:
            sys.stdout, sys.stderr = shown

    def reply_to(self, request: str) -> str:
        """One request's reply; never an exception (the checker must get an answer either way)."""
        try:
            return self.answer(self.decode(request))
        except BaseException as error:  # an interrupt too: the checker reads it and goes on
            return plain_data.encode(["refused", f"{type(error).__name__}: {error}"[:MAX_MESSAGE]])

    def answer(self, request: list) -> str:
        operation = request[0]
        if operation == "resolve":
            found = {name: self.namespace[name] for name in request[1] if name in self.namespace}
            return self.encode(["ok", found, None])
        if operation == "call":
            target, args, kwargs = request[1:]
            known = {id(a): ["arg", i] for i, a in enumerate(args) if isinstance(a, MUTABLE)}
            known.update({id(a): ["kwarg", k] for k, a in kwargs.items() if isinstance(a, MUTABLE)})
            try:
                result = target(*args, **kwargs)
            except Exception as error:
                return self.encode(described(error))
            after = [[a if isinstance(a, (*MUTABLE, np.random.Generator)) else None for a in args],
                     {k: a for k, a in kwargs.items() if isinstance(a, (*MUTABLE, np.random.Generator))}]
            encoder = plain_data.Encoder(self.handle, self.limit, known)
            result_tree = encoder(result)
            encoder.known = {}  # the arguments as they are now, by value
            return json.dumps(["list", ["ok", result_tree, encoder(after)]], separators=(",", ":"))
        try:
            if operation == "getattr":
                result = getattr(request[1], request[2])
            elif operation == "getitem":
                result = request[1][request[2]]
            else:
                raise ValueError(f"unknown request {operation!r}")
        except Exception as error:
            return self.encode(described(error))
        return self.encode(["ok", result, None])


BOOTSTRAP = """
import sys, types
plain_data = types.ModuleType(PLAIN_DATA_MODULE)
exec(compile(PLAIN_DATA_SOURCE, "<course-checker-plain-data>", "exec"), plain_data.__dict__)
agent = types.ModuleType(MODULE)
agent.plain_data = plain_data
exec(compile(AGENT_SOURCE, "<course-checker-agent>", "exec"), agent.__dict__)
agent.AGENT = agent.Agent(sys.modules["IPython"].get_ipython().user_ns, LIMIT)
sys.modules[PLAIN_DATA_MODULE], sys.modules[MODULE] = plain_data, agent
"""


def install_code(plain_data_source: str, agent_source: str, limit: int) -> str:
    """Code for the student's kernel that makes the agent, bound to the notebook's namespace;
    it runs in a namespace of its own, so it leaves no name in the notebook's."""
    names = dict(PLAIN_DATA_MODULE=PLAIN_DATA_MODULE, MODULE=MODULE, PLAIN_DATA_SOURCE=plain_data_source,
                 AGENT_SOURCE=agent_source, LIMIT=limit)
    return f"exec({BOOTSTRAP!r}, {names!r})"


SERVE_CODE = f'__import__("sys").modules[{MODULE!r}].AGENT.serve()'
