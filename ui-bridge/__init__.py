"""The edge to browsers: the websocket bridge and the dashboard page (package ``ui_bridge``)."""
