"""Eventlet, imported in one place with its deprecation banner silenced.

Brume uses eventlet for green concurrency (servers, fan-out); every module that needs it
imports it from here (`from common.green import eventlet`) so users never see the banner.
"""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402
import eventlet.greenpool  # noqa: E402
import eventlet.wsgi  # noqa: E402

__all__ = ["eventlet"]
