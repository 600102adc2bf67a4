"""dnoctl: real-time LV feeder load control for a GB Distribution Network Operator."""

from .celery import app as celery_app

__all__ = ("celery_app",)
