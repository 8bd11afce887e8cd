import socket

import pytest
from conftest import NetworkGuardError


def test_connection_outside_loopback_fails():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkGuardError):
            sock.connect(("10.255.255.1", 443))
    finally:
        sock.close()


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket()
    try:
        client.connect(server.getsockname())
        assert client.getpeername() == server.getsockname()
    finally:
        client.close()
        server.close()
