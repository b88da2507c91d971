# The bootstrap of dspy's Python sandbox (dspy-core/src/module/sandbox.rs).
# Reads one JSON request on stdin, runs the code it carries, writes one JSON line on stdout.
# Order: resource limits -> preload the allowed modules -> seccomp filter -> audit hook -> code.
# Functions here are not `__main__`'s, so the code cannot rebind their attributes.
__name__ = "_dspy_sandbox"


def _seccomp_program(pid):
    import struct
    EPERM, ENOSYS = 1, 38
    ALLOW, KILL = 0x7FFF0000, 0x80000000
    LD, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
    prog = []

    def ins(code, jt, jf, k):
        prog.append(struct.pack("HBBI", code, jt, jf, k))

    denied = (
        41, 42, 43, 49, 50, 53, 288,  # socket connect accept bind listen socketpair accept4
        57, 58, 59, 322,  # fork vfork execve execveat
        2, 257, 85, 437, 303, 304,  # open openat creat openat2 name_to_handle_at open_by_handle_at
        76, 77, 82, 83, 84, 86, 87, 88, 90, 91, 92, 93, 94, 132, 133, 235,  # file system changes
        258, 259, 260, 261, 263, 264, 265, 266, 268, 280, 316, 452,  # ... their *at variants
        188, 189, 190, 197, 198, 199,  # xattrs
        101, 310, 311, 200,  # ptrace process_vm_readv process_vm_writev tkill
        160, 302,  # setrlimit prlimit64
        165, 166, 161, 155, 167, 168, 169, 170, 171, 175, 313, 176, 246, 320, 163, 179,  # admin
        425, 426, 427, 321, 298, 323, 319, 248, 249, 250, 434, 424, 438, 308, 272, 300,
        428, 429, 430, 431, 432, 433,  # io_uring bpf perf userfaultfd memfd keys pidfd ns mounts
    )
    ins(LD, 0, 0, 4)  # seccomp_data.arch
    ins(JEQ, 1, 0, 0xC000003E)  # AUDIT_ARCH_X86_64
    ins(RET, 0, 0, KILL)
    ins(LD, 0, 0, 0)  # seccomp_data.nr
    ins(JGE, 0, 1, 0x40000000)  # the x32 ABI
    ins(RET, 0, 0, 0x00050000 | EPERM)
    for nr in denied:
        ins(JEQ, 0, 1, nr)
        ins(RET, 0, 0, 0x00050000 | EPERM)
    ins(JEQ, 0, 1, 435)  # clone3 (glibc then falls back to clone)
    ins(RET, 0, 0, 0x00050000 | ENOSYS)
    ins(JEQ, 0, 4, 56)  # clone: new threads only
    ins(LD, 0, 0, 16)
    ins(JSET, 0, 1, 0x00010000)  # CLONE_THREAD
    ins(RET, 0, 0, ALLOW)
    ins(RET, 0, 0, 0x00050000 | EPERM)
    for nr in (62, 234):  # kill, tgkill: this process only
        ins(JEQ, 0, 4, nr)
        ins(LD, 0, 0, 16)
        ins(JEQ, 0, 1, pid)
        ins(RET, 0, 0, ALLOW)
        ins(RET, 0, 0, 0x00050000 | EPERM)
    ins(RET, 0, 0, ALLOW)
    return prog


def _install_seccomp():
    import sys, os, platform
    if sys.platform != "linux" or platform.machine() != "x86_64":
        return "the seccomp filter supports Linux on x86_64 only, not %s on %s" % (sys.platform, platform.machine())
    try:
        import ctypes
    except ImportError as e:
        return "ctypes is unavailable: %s" % e
    prog = _seccomp_program(os.getpid())
    code = b"".join(prog)
    buf = ctypes.create_string_buffer(code, len(code))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Prog(len(prog), ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        return "prctl(PR_SET_NO_NEW_PRIVS) failed with errno %d" % ctypes.get_errno()
    if libc.prctl(22, 2, ctypes.addressof(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        return "prctl(PR_SET_SECCOMP) failed with errno %d" % ctypes.get_errno()
    return None


class _Violation(PermissionError):
    """Raised by the audit hook; the run is reported as a violation even if the code catches it."""


_PROCESS = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.wait",
            "subprocess.", "pty.", "os.kill", "os.killpg", "signal.pthread_kill", "os.startfile",
            "_posixsubprocess")
_FILES = ("open", "os.listdir", "os.scandir", "os.chdir", "os.remove", "os.rename", "os.rmdir", "os.mkdir",
          "os.symlink", "os.link", "os.truncate", "os.chmod", "os.chown", "os.utime", "os.chflags",
          "os.lchflags", "os.setxattr", "os.removexattr", "os.listxattr", "os.getxattr", "shutil.",
          "glob.", "tempfile.", "os.putenv", "os.unsetenv", "os.fwalk", "os.walk", "fcntl.", "mmap.")
_INTERPRETER = ("ctypes.", "sys.settrace", "sys.setprofile", "sys._getframe", "sys._current_frames",
                "sys._current_exceptions", "code.__new__", "resource.", "sys.addaudithook", "function.__new__",
                "marshal.", "gc.", "cpython.", "sys.monitoring", "builtins.input", "winreg.", "sqlite3.",
                "import")
_FRAME_ATTRS = frozenset(("tb_frame", "gi_frame", "cr_frame", "ag_frame", "gi_code", "cr_code", "ag_code", "f_back"))
_NETWORK = ("socket.", "ssl.", "http.", "urllib.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.",
            "telnetlib.", "webbrowser.")


# Everything the hook uses is bound as a default (immutable, or checked on assignment), so
# rebinding names in this module or in `builtins` cannot change what it does.
def _hook(event, args, violations=[], _network=_NETWORK, _process=_PROCESS, _files=_FILES,
          _interpreter=_INTERPRETER, _frame_attrs=_FRAME_ATTRS, _violation=_Violation,
          _len=len, _repr=repr, _getattr=getattr, _str=str):
    kind = None
    if event.startswith(_network):
        kind, text = "network", "network access"
    elif event.startswith(_process):
        kind, text = "process", "starting or signalling processes"
    elif event.startswith(_files):
        kind, text = "filesystem", "file system access"
    elif event == "import":
        kind, text = "import", "loading modules"
    elif event.startswith(_interpreter):
        kind, text = "introspection", "interpreter introspection"
    elif event == "object.__getattr__" and _len(args) > 1 and args[1] in _frame_attrs:
        kind, text = "introspection", "interpreter introspection"
    elif event in ("object.__setattr__", "object.__delattr__") and args and _getattr(args[0], "__module__", None) != "__main__":
        kind, text = "introspection", "interpreter introspection"
    if kind is None:
        return
    detail = event
    if args and event in ("open", "import", "os.system", "os.listdir", "os.scandir", "os.remove", "socket.getaddrinfo"):
        detail = event + " " + _repr(args[0])[:200]
    elif _len(args) > 1 and event in ("socket.connect", "socket.bind", "object.__getattr__", "object.__setattr__"):
        detail = event + " " + _repr(args[1])[:200]
    if not violations:
        violations.append((kind, detail))
    raise _violation("sandbox: " + text + " is not allowed (" + detail + ")")


def _main():
    import sys, json, resource, builtins, io, traceback, ast
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    out = sys.stdout
    limits = request["limits"]
    allowed = frozenset(request["allowed_modules"])

    def reply(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    # 1. Kernel resource limits; the filter below denies raising them again.
    for name, value in (
        ("RLIMIT_AS", int(limits["memory_bytes"])),
        ("RLIMIT_CPU", int(limits["cpu_seconds"])),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_NPROC", 0),
    ):
        resource.setrlimit(getattr(resource, name), (value, value))

    # 2. Every module the code may import is loaded now: afterwards no module is ever loaded.
    for name in list(request.get("preload", [])) + sorted(allowed):
        try:
            __import__(name)
        except ImportError:
            pass

    # 3. The kernel filter.
    if request.get("kernel_filter", True):
        problem = _install_seccomp()
        if problem is not None and request.get("require_kernel_filter", True):
            reply({"status": "unavailable", "message": problem})
            return
    for name in list(sys.modules):
        if name.split(".")[0] in ("ctypes", "_ctypes", "resource", "platform", "struct", "_struct") and name.split(".")[0] not in allowed:
            del sys.modules[name]

    # 4. The code, compiled before the hook (compiling raises no events worth denying).
    code = request["code"]
    try:
        tree = ast.parse(code, "<exec>")
        tail = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            tail = compile(ast.Expression(tree.body.pop().value), "<exec>", "eval", dont_inherit=True)
        body = compile(tree, "<exec>", "exec", dont_inherit=True)
    except SyntaxError as e:
        reply({"status": "syntax_error", "message": "".join(traceback.format_exception_only(type(e), e)).strip()})
        return
    except (MemoryError, RecursionError, ValueError) as e:
        reply({"status": "syntax_error", "message": "%s: %s" % (type(e).__name__, e)})
        return

    class FinalOutput(BaseException):
        pass

    def SUBMIT(output):
        raise FinalOutput({"output": output})

    user_ns = {"__name__": "__main__", "__builtins__": builtins, "SUBMIT": SUBMIT}
    user_ns.update(request.get("variables", {}))
    real_import = builtins.__import__
    violations = _hook.__defaults__[0]

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0, _ns=user_ns, _allowed=allowed):
        if globals is _ns and (level != 0 or name.split(".")[0] not in _allowed):
            if not violations:
                violations.append(("import", name))
            raise _Violation("sandbox: importing %r is not allowed; allowed modules: %s" % (name, ", ".join(sorted(_allowed))))
        return real_import(name, globals, locals, fromlist, level)

    def jsonable(v):
        if v is None or isinstance(v, (str, int, float, bool)):
            return v
        if isinstance(v, dict):
            return {(k if isinstance(k, (str, int, float, bool)) or k is None else str(k)): jsonable(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [jsonable(x) for x in v]
        if isinstance(v, (set, frozenset)):
            try:
                return [jsonable(x) for x in sorted(v)]
            except TypeError:
                return [jsonable(x) for x in v]
        return str(v)

    captured, discarded = io.StringIO(), io.StringIO()
    if request.get("audit_hook", True):
        sys.addaudithook(_hook)
        builtins.__import__ = guarded_import
    sys.stdout, sys.stderr = captured, discarded
    kind, result, error = "output", None, None
    try:
        exec(body, user_ns)
        if tail is not None:
            result = eval(tail, user_ns)
    except FinalOutput as e:
        kind, result = "final", e.args[0]
    except MemoryError:
        error = {"status": "memory_limit"}
    except RecursionError as e:
        error = {"status": "error", "type": "RecursionError", "args": [str(e)], "message": str(e)}
    except BaseException as e:
        try:
            args = json.loads(json.dumps(list(e.args), default=str))
        except Exception:
            args = [str(a) for a in e.args]
        error = {"status": "error", "type": type(e).__name__, "args": args, "message": str(e)}
    finally:
        builtins.__import__ = real_import
        sys.stdout, sys.stderr = out, out
    if violations:
        kind, detail = violations[0]
        reply({"status": "violation", "kind": kind, "detail": detail})
        return
    if error is not None:
        reply(error)
        return
    stdout = captured.getvalue()[: int(limits.get("max_output_chars", 1 << 20))]
    if kind == "output" and result is None:
        result = stdout
    try:
        text = json.dumps(jsonable(result))
    except (ValueError, RecursionError) as e:
        reply({"status": "error", "type": type(e).__name__, "args": [str(e)], "message": str(e)})
        return
    reply({"status": "ok", "kind": kind, "json": text, "stdout": stdout})


_main()
