from consent.routing import websocket_urlpatterns as consent_ws
from curtailment.routing import websocket_urlpatterns as curtailment_ws
from feeders.routing import websocket_urlpatterns as feeders_ws

websocket_urlpatterns = [*feeders_ws, *curtailment_ws, *consent_ws]
