"""The wizard's screens by route name, for the App's routing, the command palette and Help.

A table apart from the App, so that screens can list their siblings without importing the App.
"""

from __future__ import annotations

# name -> (module, class, what it is for); `YunpipeApp.make_screen` builds each one.
ROUTES: dict[str, tuple[str, str, str]] = {
    "home": ("yunpipe_tui.screens.home", "HomeScreen", "Who you are, doctor summary, pipelines"),
    "doctor": ("yunpipe_tui.screens.doctor", "DoctorScreen", "Check and fix AWS prerequisites"),
    "credentials": (
        "yunpipe_tui.screens.credentials",
        "CredentialsScreen",
        "AWS keys in the OS keyring or an encrypted file",
    ),
    "workflow": ("yunpipe_tui.screens.workflow", "WorkflowScreen", "Build and save a workflow"),
    "deploy": ("yunpipe_tui.screens.deploy", "DeployScreen", "Plan and deploy a workflow"),
    "monitor": ("yunpipe_tui.screens.monitor", "MonitorScreen", "Watch queues and instances"),
}
SCREEN_KEYS = {"doctor": "d", "credentials": "c", "workflow": "w", "deploy": "p", "monitor": "m"}
