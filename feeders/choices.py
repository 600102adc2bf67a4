from django.db import models


class LicenceArea(models.TextChoices):
    """The 14 GB electricity distribution licence areas."""

    NORTH_SCOTLAND = "north_scotland", "North Scotland"
    SOUTH_SCOTLAND = "south_scotland", "South Scotland"
    NORTH_EAST = "north_east", "North East England"
    NORTH_WEST = "north_west", "North West England"
    YORKSHIRE = "yorkshire", "Yorkshire"
    MERSEYSIDE_NORTH_WALES = "merseyside_north_wales", "Merseyside and North Wales"
    EAST_MIDLANDS = "east_midlands", "East Midlands"
    WEST_MIDLANDS = "west_midlands", "West Midlands"
    EAST_ENGLAND = "east_england", "East of England"
    SOUTH_WALES = "south_wales", "South Wales"
    SOUTH_WEST = "south_west", "South West England"
    LONDON = "london", "London"
    SOUTH_EAST = "south_east", "South East England"
    SOUTHERN = "southern", "Southern England"


class FeederStatus(models.TextChoices):
    """What the control room sees for a feeder. Offline is never shown as normal."""

    NORMAL = "normal", "Normal"
    AT_RISK = "at_risk", "At risk"
    CURTAILING = "curtailing", "Curtailing"
    OFFLINE = "offline", "Offline"


class AlertKind(models.TextChoices):
    """Why a feeder was judged at risk."""

    THRESHOLD = "threshold", "Load at or above the at-risk level"
    TREND = "trend", "Trend will exceed the rating within 10 minutes"
    EXTERNAL = "external", "Raised by an external system (SCADA)"
