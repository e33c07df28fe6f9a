"""The operator panel: the station in a browser, live per socket (docs/panel.md)."""

from linegate.station.panel.app import PanelServer, serve
from linegate.station.panel.hub import PanelHub, Refused, Reply
from linegate.station.panel.security import TOKEN_ENV, PanelError
from linegate.station.panel.states import SocketState

__all__ = ["TOKEN_ENV", "PanelError", "PanelHub", "PanelServer", "Refused", "Reply", "SocketState", "serve"]
