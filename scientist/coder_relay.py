"""Starts aider inside the coder's sandbox, which has no network: a relay listens on the sandbox's own
loopback and carries each connection to the model gateway's Unix socket, bound in from outside, and
the command runs with ``OPENAI_API_BASE`` pointing at the relay and a fresh, private ``HOME``.

Usage: ``python coder_relay.py SOCKET -- COMMAND...``; exits with the command's exit code.
Standard library only: it runs on aider's interpreter.
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _carry(client: socket.socket, path: str) -> None:
    with client, socket.socket(socket.AF_UNIX) as upstream:
        try:
            upstream.connect(path)
        except OSError:
            return
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()


def _serve(listener: socket.socket, path: str) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_carry, args=(client, path), daemon=True).start()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit(__doc__)
    path, command = argv[0], argv[2:]
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=_serve, args=(listener, path), daemon=True).start()
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    with tempfile.TemporaryDirectory(prefix="home-") as home:
        env = dict(os.environ, HOME=home, OPENAI_API_BASE=base_url)
        return subprocess.call(command, env=env, stdin=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
