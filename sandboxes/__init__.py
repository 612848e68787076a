"""Development sandboxes: local stand-ins for WeChat's server APIs, the city's 12345 platform
and Tencent Cloud SMS.

Product packages never import this package (the "forbidden" import contract); only the
`flask --app run` entry point wires in its commands.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Add `wechat-sandbox`, `hotline-sandbox` and `sms-sandbox` to the app's command line."""
    from sandboxes.hotline import hotline_sandbox_command
    from sandboxes.sms import sms_sandbox_command
    from sandboxes.wechat import wechat_sandbox_command

    app.cli.add_command(wechat_sandbox_command)
    app.cli.add_command(hotline_sandbox_command)
    app.cli.add_command(sms_sandbox_command)
