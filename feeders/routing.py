from django.urls import path

from feeders import consumers

websocket_urlpatterns = [
    path("ws/feeders/", consumers.FeedersOverviewConsumer.as_asgi()),
    path("ws/feeders/<int:feeder_id>/", consumers.FeederConsumer.as_asgi()),
]
