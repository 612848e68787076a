"""How every sandbox runs: werkzeug's threaded server until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler


class QuietRequestHandler(WSGIRequestHandler):
    """No request log at all (tests)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve_until_stopped(server: BaseWSGIServer, *, stopped: str) -> None:
    """Serve until interrupted, then close and print `stopped`. `flask up` stops its
    children with SIGTERM: they leave as cleanly as on Ctrl-C."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        print(stopped, flush=True)
