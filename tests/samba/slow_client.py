"""A second real SMB client (smbprotocol) for tests/e2e/samba.rs.

    slow_client.py check
    slow_client.py put  PORT PASSWORD LOCAL REMOTE CHUNK PAUSE [GUARD_JOB_FILE]
    slow_client.py wait PORT PASSWORD JOB_FILE TIMEOUT

`put` copies LOCAL to REMOTE (share-relative, `\\` separators) through one open handle, CHUNK bytes
at a time with PAUSE seconds between chunks. After every chunk but the last it checks over SMB
that the server holds exactly the bytes written so far (the partial file is visible) and, with
GUARD_JOB_FILE, that this job file is still in jobs\\queue and in none of processing, completed,
failed: the bridge has not acted on it. It prints one JSON line: chunks, bytes, seconds, and the
partial sizes seen.

`wait` polls jobs\\completed then jobs\\failed for JOB_FILE, as the Windows launcher does, and
prints one JSON line: the folder it was found in and the file's text.

Exit status 0 on success, 1 with a sentence on stderr otherwise, 3 when smbprotocol is missing.
"""

import errno
import json
import sys
import time

try:
    import smbclient
except ImportError as e:
    if sys.argv[1:2] == ["check"]:
        print(f"the Python module smbprotocol is not installed ({e})", file=sys.stderr)
        sys.exit(3)
    raise

SHARE = r"\\127.0.0.1\optimizer_share"
USER = "optimizer"


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def connect(port, password):
    smbclient.register_session("127.0.0.1", username=USER, password=password, port=port)


def exists(relative, port):
    # port= on every call: smbprotocol otherwise goes to 445.
    return smbclient.path.exists(rf"{SHARE}\{relative}", port=port)


def check_untouched(job_file, written, total, port):
    """Fails unless job_file is in jobs\\queue and in no other jobs folder."""
    elsewhere = [
        rf"jobs\{folder}"
        for folder in ("processing", "completed", "failed")
        if exists(rf"jobs\{folder}\{job_file}", port)
    ]
    if elsewhere:
        fail(
            f"the bridge acted on the half-written {job_file} after {written} of {total} "
            f"bytes: it is in {', '.join(elsewhere)}"
        )
    if not exists(rf"jobs\queue\{job_file}", port):
        fail(f"the half-written {job_file} left jobs\\queue after {written} of {total} bytes")


def put(port, password, local, remote, chunk, pause, guard=None):
    connect(port, password)
    with open(local, "rb") as source:
        data = source.read()
    sizes = []  # the file's size on the server while it is partial
    start = time.monotonic()
    with smbclient.open_file(rf"{SHARE}\{remote}", mode="wb", port=port) as f:
        for offset in range(0, len(data), chunk):
            f.write(data[offset : offset + chunk])
            f.flush()
            written = min(offset + chunk, len(data))
            if written == len(data):
                break  # whole: from now on the bridge may take it
            if guard is not None:
                check_untouched(guard, written, len(data), port)
            size = smbclient.stat(rf"{SHARE}\{remote}", port=port).st_size
            if size != written:
                fail(f"after {written} bytes the server holds {size} bytes of {remote}")
            sizes.append(size)
            time.sleep(pause)
    seconds = time.monotonic() - start
    summary = {"chunks": len(sizes) + 1, "bytes": len(data), "seconds": seconds, "sizes": sizes}
    print(json.dumps(summary))


def wait(port, password, job_file, timeout):
    connect(port, password)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for folder in ("completed", "failed"):
            path = rf"{SHARE}\jobs\{folder}\{job_file}"
            try:
                with smbclient.open_file(path, mode="r", encoding="utf-8", port=port) as f:
                    print(json.dumps({"folder": folder, "text": f.read()}))
                    return
            except OSError as e:  # smbprotocol's SMBOSError is no FileNotFoundError
                if e.errno != errno.ENOENT:
                    raise
        time.sleep(0.1)
    fail(f"no jobs\\completed\\{job_file} nor jobs\\failed\\{job_file} within {timeout} s")


def main(args):
    if args[:1] == ["check"]:
        return
    if len(args) in (7, 8) and args[0] == "put":
        port, password, local, remote, chunk, pause = args[1:7]
        guard = args[7] if len(args) == 8 else None
        put(int(port), password, local, remote, int(chunk), float(pause), guard)
    elif len(args) == 5 and args[0] == "wait":
        wait(int(args[1]), args[2], args[3], float(args[4]))
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
