"""Customer notifications (NF2/NF4): frequency rules, delivery, retries."""

import datetime as dt

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from consent import notifications, tasks
from consent.choices import NotificationChannel, NotificationFrequency, NotificationKind, NotificationStatus
from consent.models import Consent, Notification
from tests.consent.factories import HcalcsFactory, eligible_charger
from tests.consent.mailbackends import FlakyBackend
from tests.curtailment.factories import open_event

pytestmark = pytest.mark.django_db


def _event(feeder, started_at):
    return open_event(
        feeder=feeder,
        trigger="automatic",
        status="ended",
        started_at=started_at,
        planned_end_at=started_at + dt.timedelta(minutes=45),
        ended_at=started_at + dt.timedelta(minutes=45),
        reduction_kw=20,
    )


def _pauses(event, *chargers, boost_available=True):
    """Each charger paused for the whole event (its own window is the event's here)."""
    return [
        notifications.ChargerPause(charger.pk, event.started_at, event.planned_end_at, boost_available)
        for charger in chargers
    ]


def _charger(frequency, channel=NotificationChannel.EMAIL):
    charger = eligible_charger()
    Consent.objects.filter(tenancy__premise=charger.meter.premise).update(
        notification_frequency=frequency, notification_channel=channel
    )
    return charger


def test_each_event_notice_is_sent_on_commit(celery_eager, django_capture_on_commit_callbacks):
    charger = _charger(NotificationFrequency.EACH_EVENT)
    event = _event(charger.meter.premise.feeder, timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        [notice] = notifications.notification_event_queue(event=event, pauses=_pauses(event, charger))
    notice.refresh_from_db()
    assert (notice.kind, notice.status, notice.attempts) == (NotificationKind.EVENT, NotificationStatus.SENT, 1)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [notice.customer.email]
    assert "paused" in mail.outbox[0].body


def test_queueing_the_same_event_twice_notifies_once():
    charger = _charger(NotificationFrequency.EACH_EVENT)
    event = _event(charger.meter.premise.feeder, timezone.now())
    notifications.notification_event_queue(event=event, pauses=_pauses(event, charger))
    assert notifications.notification_event_queue(event=event, pauses=_pauses(event, charger)) == []
    assert Notification.objects.filter(event=event).count() == 1


def test_customer_without_granted_consent_is_not_notified():
    charger = _charger(NotificationFrequency.EACH_EVENT)
    Consent.objects.filter(tenancy__premise=charger.meter.premise).update(status="withdrawn")
    event = _event(charger.meter.premise.feeder, timezone.now())
    assert notifications.notification_event_queue(event=event, pauses=_pauses(event, charger)) == []


def test_daily_digest_collects_the_days_events_into_one_notice(celery_eager):
    charger = _charger(NotificationFrequency.DAILY_DIGEST)
    feeder = charger.meter.premise.feeder
    day = (timezone.now() - dt.timedelta(days=3)).astimezone(notifications.LONDON)
    morning = day.replace(hour=8, minute=0, second=0, microsecond=0)
    evening = day.replace(hour=18, minute=30, second=0, microsecond=0)
    for started in (morning, evening):
        event = _event(feeder, started)
        notifications.notification_event_queue(event=event, pauses=_pauses(event, charger))

    digest = Notification.objects.get(kind=NotificationKind.DAILY_DIGEST)
    items = Notification.objects.filter(kind=NotificationKind.EVENT)
    assert {item.status for item in items} == {NotificationStatus.BATCHED}
    assert {item.digest_id for item in items} == {digest.pk}
    assert digest.due_at == dt.datetime.combine(day.date() + dt.timedelta(days=1), dt.time(7), notifications.LONDON)
    assert mail.outbox == []  # nothing goes out before the digest is due

    assert tasks.notifications_send_due.delay().get() == 1
    digest.refresh_from_db()
    assert digest.status == NotificationStatus.SENT
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "2 times" in body
    assert "08:00 to 08:45" in body and "18:30 to 19:15" in body  # Europe/London wall clock


def test_monthly_statement_is_due_on_the_first_of_next_month():
    at = dt.datetime(2026, 10, 25, 23, 30, tzinfo=dt.UTC)  # clock-change day, still October locally
    due = notifications.digest_due_at(frequency=NotificationFrequency.MONTHLY_STATEMENT, at=at)
    assert due == dt.datetime(2026, 11, 1, 7, 0, tzinfo=dt.UTC)  # 07:00 GMT


def test_sms_goes_through_the_recording_sender(celery_eager, django_capture_on_commit_callbacks):
    charger = _charger(NotificationFrequency.EACH_EVENT, channel=NotificationChannel.SMS)
    customer = Consent.objects.get(tenancy__premise=charger.meter.premise).tenancy.customer
    customer.phone = "+447700900123"
    customer.save()
    sender = notifications.SENDERS[NotificationChannel.SMS]
    before = len(sender.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notification_event_queue(
            event=(event := _event(charger.meter.premise.feeder, timezone.now())), pauses=_pauses(event, charger)
        )
    assert len(sender.outbox) == before + 1
    assert sender.outbox[-1].address == "+447700900123"
    assert mail.outbox == []


@override_settings(EMAIL_BACKEND="tests.consent.mailbackends.FlakyBackend")
def test_a_failed_send_is_retried_until_it_goes_through(celery_eager, django_capture_on_commit_callbacks):
    FlakyBackend.failures_left = 2
    charger = _charger(NotificationFrequency.EACH_EVENT)
    with django_capture_on_commit_callbacks(execute=True):
        [notice] = notifications.notification_event_queue(
            event=(event := _event(charger.meter.premise.feeder, timezone.now())), pauses=_pauses(event, charger)
        )
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, notice.last_error) == (NotificationStatus.SENT, 3, "")
    assert len(mail.outbox) == 1


@override_settings(EMAIL_BACKEND="tests.consent.mailbackends.FlakyBackend")
def test_retries_run_out_and_the_notice_shows_as_failed(
    celery_eager, django_capture_on_commit_callbacks, operator_client
):
    FlakyBackend.failures_left = 100
    charger = _charger(NotificationFrequency.EACH_EVENT)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            [notice] = notifications.notification_event_queue(
                event=(event := _event(charger.meter.premise.feeder, timezone.now())), pauses=_pauses(event, charger)
            )
    finally:
        FlakyBackend.failures_left = 0
    notice.refresh_from_db()
    assert notice.status == NotificationStatus.GAVE_UP
    assert notice.attempts == notifications.MAX_ATTEMPTS
    assert "connection unexpectedly closed" in notice.last_error
    assert mail.outbox == []


@override_settings(EMAIL_BACKEND="tests.consent.mailbackends.FlakyBackend")
def test_a_retry_lost_with_a_crashed_worker_is_picked_up_by_beat(celery_eager):
    """GIVEN a notice whose first send failed (the retry message then lost with the worker)
    WHEN the beat task runs after the recorded retry time THEN the notice is sent."""
    FlakyBackend.failures_left = 1
    charger = _charger(NotificationFrequency.EACH_EVENT)
    [notice] = notifications.notification_event_queue(
        event=(event := _event(charger.meter.premise.feeder, timezone.now())), pauses=_pauses(event, charger)
    )
    with pytest.raises(notifications.NotificationRetry):
        notifications.notification_send(notification_id=notice.pk)
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NotificationStatus.FAILED, 1)
    assert notifications.notification_due_ids(now=timezone.now()) == []  # its retry is not due yet
    later = notice.due_at + dt.timedelta(minutes=3)
    assert notifications.notification_due_ids(now=later) == [notice.pk]
    Notification.objects.filter(pk=notice.pk).update(due_at=timezone.now() - dt.timedelta(minutes=3))
    assert tasks.notifications_send_due.delay().get() == 1
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NotificationStatus.SENT, 2)
    assert len(mail.outbox) == 1


def test_the_notice_names_the_chargers_own_window_not_the_events(celery_eager, django_capture_on_commit_callbacks):
    """GIVEN an event from 17:00 to 19:00 UTC in winter WHEN a customer's charger is paused
    from 17:20 to 18:05 (its own action) THEN the notice says 17:20 to 18:05, London time."""
    charger = _charger(NotificationFrequency.EACH_EVENT)
    started = dt.datetime(2026, 12, 3, 17, 0, tzinfo=dt.UTC)
    event = open_event(
        feeder=charger.meter.premise.feeder,
        trigger="automatic",
        started_at=started,
        planned_end_at=started + dt.timedelta(hours=2),
        reduction_kw=20,
    )
    pause = notifications.ChargerPause(
        charger.pk, started + dt.timedelta(minutes=20), started + dt.timedelta(minutes=65), True
    )
    with django_capture_on_commit_callbacks(execute=True):
        [notice] = notifications.notification_event_queue(event=event, pauses=[pause])

    assert (notice.window_start, notice.window_end) == (pause.starts_at, pause.ends_at)
    body = mail.outbox[0].body
    assert "from 3 Dec 2026 17:20 until\n18:05 at the latest" in body
    assert "19:00" not in body and "17:00" not in body
    assert "press the boost button" in body


def test_a_summer_window_across_midnight_is_in_london_time_with_its_end_date():
    charger = _charger(NotificationFrequency.EACH_EVENT, channel=NotificationChannel.SMS)
    event = _event(charger.meter.premise.feeder, dt.datetime(2026, 7, 1, 22, 40, tzinfo=dt.UTC))
    pause = notifications.ChargerPause(
        charger.pk, dt.datetime(2026, 7, 1, 22, 45, tzinfo=dt.UTC), dt.datetime(2026, 7, 1, 23, 20, tzinfo=dt.UTC), True
    )
    [notice] = notifications.notification_event_queue(event=event, pauses=[pause])

    assert "paused from 23:45 until 00:20 on 2 Jul" in notice.body  # BST
    assert notice.subject.startswith("Your EV charger was paused on 1 Jul 2026")


@pytest.mark.parametrize(
    ("override_allowed", "boost_available", "press_boost", "will_not_work"),
    [(True, True, True, False), (True, False, False, True), (False, False, False, False)],
)
def test_the_notice_says_press_boost_only_when_the_boost_button_works(
    override_allowed, boost_available, press_boost, will_not_work
):
    """Press boost when it overrides the pause; say it will not when the customer may
    override but the charger could not be put on the button; neither when not allowed."""
    charger = _charger(NotificationFrequency.EACH_EVENT)
    Consent.objects.filter(tenancy__premise=charger.meter.premise).update(override_allowed=override_allowed)
    event = _event(charger.meter.premise.feeder, timezone.now())

    [notice] = notifications.notification_event_queue(
        event=event, pauses=_pauses(event, charger, boost_available=boost_available)
    )

    body = " ".join(notice.body.split())
    assert ("press the boost button" in body) is press_boost
    assert ("boost button will not override it" in body) is will_not_work


def test_one_notice_per_customer_spans_their_chargers_pauses():
    charger = _charger(NotificationFrequency.EACH_EVENT)
    second = HcalcsFactory(meter=charger.meter, switch_index=2)
    event = _event(charger.meter.premise.feeder, dt.datetime(2026, 12, 3, 17, 0, tzinfo=dt.UTC))
    pauses = [
        notifications.ChargerPause(charger.pk, event.started_at, event.started_at + dt.timedelta(minutes=30), True),
        notifications.ChargerPause(
            second.pk, event.started_at + dt.timedelta(minutes=10), event.started_at + dt.timedelta(minutes=40), True
        ),
    ]

    [notice] = notifications.notification_event_queue(event=event, pauses=pauses)

    assert (notice.window_start, notice.window_end) == (pauses[0].starts_at, pauses[1].ends_at)
    assert "17:00 until\n17:40" in notice.body


# --- a limited charger (APC, SRV 7.16) is slowed, not paused ---------------------------------

PAUSE_WORDS = ("paused", "pause", "switched off", "switch off")


def _apc_charger(frequency=NotificationFrequency.EACH_EVENT, channel=NotificationChannel.EMAIL, **kwargs):
    charger = eligible_charger(controller_type="apc", rated_kw=11.0, **kwargs)
    Consent.objects.filter(tenancy__premise=charger.meter.premise).update(
        notification_frequency=frequency, notification_channel=channel
    )
    return charger


def _winter_event(feeder):
    started = dt.datetime(2026, 12, 3, 17, 0, tzinfo=dt.UTC)
    return open_event(
        feeder=feeder,
        trigger="automatic",
        started_at=started,
        planned_end_at=started + dt.timedelta(hours=2),
        reduction_kw=20,
    )


def _limit(charger, event, *, level, start_min=20, end_min=65, boost_available=True):
    return notifications.ChargerPause(
        charger.pk,
        event.started_at + dt.timedelta(minutes=start_min),
        event.started_at + dt.timedelta(minutes=end_min),
        boost_available,
        level_percent=level,
        limit_kw=round(charger.rated_kw * level / 100, 2),
    )


def _says_pause(text: str) -> bool:
    return any(word in text.lower() for word in PAUSE_WORDS)


def test_a_limited_customers_email_names_the_level_and_kw_and_never_says_paused(
    celery_eager, django_capture_on_commit_callbacks
):
    charger = _apc_charger()
    event = _winter_event(charger.meter.premise.feeder)
    with django_capture_on_commit_callbacks(execute=True):
        [notice] = notifications.notification_event_queue(event=event, pauses=[_limit(charger, event, level=48)])

    [email] = mail.outbox
    body = " ".join(email.body.split())
    assert (
        email.subject == "Your EV charger was limited to 48 % (about 5.3 kW) on 3 Dec 2026 to protect the local network"
    )
    assert "at no more than 48 % of its maximum (about 5.3 kW)" in body
    assert "from 3 Dec 2026 17:20 until 18:05 at the latest" in body  # its own window, GMT
    assert "press the boost button" in body and "overrides the limit" in body
    assert not _says_pause(email.subject) and not _says_pause(email.body)
    assert notice.controls == {"paused": 0, "limits": [{"level_percent": 48, "limit_kw": 5.28}]}


def test_a_limited_customers_sms_names_the_level_and_kw_in_london_summer_time():
    charger = _apc_charger(channel=NotificationChannel.SMS)
    event = _event(charger.meter.premise.feeder, dt.datetime(2026, 7, 1, 22, 40, tzinfo=dt.UTC))
    limit = notifications.ChargerPause(
        charger.pk,
        dt.datetime(2026, 7, 1, 22, 45, tzinfo=dt.UTC),
        dt.datetime(2026, 7, 1, 23, 20, tzinfo=dt.UTC),
        False,
        level_percent=62,
        limit_kw=6.82,
    )

    [notice] = notifications.notification_event_queue(event=event, pauses=[limit])

    assert notice.body.startswith(
        f"Your EV charger at {charger.meter.premise.postcode} is limited (charging slowed) to 62 % of its maximum "
        "(about 6.8 kW) from 23:45 until 00:20 on 2 Jul to protect the local network."
    )
    assert "boost button cannot override this limit" in notice.body  # override allowed, not on the button
    assert notice.subject.startswith("Your EV charger was limited to 62 % (about 6.8 kW) on 1 Jul 2026")
    assert not _says_pause(notice.body) and not _says_pause(notice.subject)


def test_a_customer_with_a_paused_and_a_limited_charger_is_told_each_truly():
    charger = _charger(NotificationFrequency.EACH_EVENT)
    apc = HcalcsFactory(meter=charger.meter, switch_index=2, controller_type="apc", rated_kw=11.0)
    event = _winter_event(charger.meter.premise.feeder)
    pauses = [
        notifications.ChargerPause(charger.pk, event.started_at, event.started_at + dt.timedelta(minutes=30), True),
        _limit(apc, event, level=40, start_min=10, end_min=50),
    ]

    [notice] = notifications.notification_event_queue(event=event, pauses=pauses)

    body = " ".join(notice.body.split())
    assert "- one paused from 3 Dec 2026 17:00 until 17:30 at the latest;" in body
    assert (
        "- one limited (charging slowed) to 40 % of its maximum (about 4.4 kW) from 3 Dec 2026 17:10 until 17:50"
        in body
    )
    assert notice.subject == (
        "Your EV chargers on 3 Dec 2026: paused, and limited to 40 % (about 4.4 kW), to protect the local network"
    )
    assert (notice.window_start, notice.window_end) == (pauses[0].starts_at, pauses[1].ends_at)
    assert notice.controls == {"paused": 1, "limits": [{"level_percent": 40, "limit_kw": 4.4}]}


def test_a_mixed_customers_sms_says_which_is_paused_and_which_is_limited():
    charger = _charger(NotificationFrequency.EACH_EVENT, channel=NotificationChannel.SMS)
    apc = HcalcsFactory(meter=charger.meter, switch_index=2, controller_type="apc", rated_kw=11.0)
    event = _winter_event(charger.meter.premise.feeder)
    pauses = [
        notifications.ChargerPause(charger.pk, event.started_at, event.started_at + dt.timedelta(minutes=30), True),
        _limit(apc, event, level=40, start_min=10, end_min=50),
    ]

    [notice] = notifications.notification_event_queue(event=event, pauses=pauses)

    assert (
        "one is paused from 17:00 until 17:30; one is limited (charging slowed) to 40 % of its maximum" in notice.body
    )
    assert "(about 4.4 kW) from 17:10 until 17:50." in notice.body


def test_a_daily_digest_says_which_events_limited_the_charger(celery_eager):
    charger = _apc_charger(NotificationFrequency.DAILY_DIGEST)
    feeder = charger.meter.premise.feeder
    day = (timezone.now() - dt.timedelta(days=3)).astimezone(notifications.LONDON)
    for hour, level in ((8, 48), (18, 62)):
        event = _event(feeder, day.replace(hour=hour, minute=0, second=0, microsecond=0))
        notifications.notification_event_queue(
            event=event, pauses=[_limit(charger, event, level=level, start_min=0, end_min=45)]
        )

    assert tasks.notifications_send_due.delay().get() == 1
    [email] = mail.outbox
    assert email.subject == f"Your EV charger on {day:%-d %b %Y}: 2 limits (charging slowed)"
    body = " ".join(email.body.split())
    assert "we limited it (charging slowed, not stopped) 2 times" in body
    assert "08:00 to 08:45" in body and "limited to 48 % of its maximum (about 5.3 kW)" in body
    assert "18:00 to 18:45" in body and "limited to 62 % of its maximum (about 6.8 kW)" in body
    assert not _says_pause(email.subject) and not _says_pause(email.body)


def test_a_monthly_statement_counts_pauses_and_limits_apart(celery_eager):
    charger = _charger(NotificationFrequency.MONTHLY_STATEMENT, channel=NotificationChannel.SMS)
    apc = HcalcsFactory(meter=charger.meter, switch_index=2, controller_type="apc", rated_kw=11.0)
    feeder = charger.meter.premise.feeder
    month = dt.datetime(2026, 11, 10, 18, 0, tzinfo=dt.UTC)
    paused_event, limited_event = _event(feeder, month), _event(feeder, month + dt.timedelta(days=2))
    notifications.notification_event_queue(event=paused_event, pauses=_pauses(paused_event, charger))
    notifications.notification_event_queue(event=limited_event, pauses=[_limit(apc, limited_event, level=45)])
    statement = Notification.objects.get(kind=NotificationKind.MONTHLY_STATEMENT)

    subject, body = notifications._digest_render(statement)

    assert body == (
        "November 2026: to protect the local network your EV charger was paused 1 time and limited "
        "(charging slowed) 1 time."
    )
    assert subject == "Your EV charger statement for November 2026"


def test_a_switched_off_customers_digest_still_says_paused(celery_eager):
    charger = _charger(NotificationFrequency.DAILY_DIGEST)
    event = _event(charger.meter.premise.feeder, timezone.now() - dt.timedelta(days=2))
    notifications.notification_event_queue(event=event, pauses=_pauses(event, charger))
    digest = Notification.objects.get(kind=NotificationKind.DAILY_DIGEST)

    subject, body = notifications._digest_render(digest)

    assert subject.endswith(": 1 pause")
    assert "we paused your EV charger 1 time" in " ".join(body.split())
    assert "limited" not in body


# --- an area-wide event notifies many customers at once --------------------------------------


def _area_event(count):
    """``count`` customers' chargers on one feeder, every third on a daily digest."""
    first = _charger(NotificationFrequency.EACH_EVENT)
    feeder = first.meter.premise.feeder
    chargers = [first] + [eligible_charger(feeder=feeder) for _ in range(count - 1)]
    digest_premises = [charger.meter.premise for charger in chargers[2::3]]
    Consent.objects.filter(tenancy__premise__in=digest_premises).update(
        notification_frequency=NotificationFrequency.DAILY_DIGEST
    )
    return _event(feeder, timezone.now()), chargers


def test_a_batch_of_notices_goes_out_in_one_task(queued_tasks, django_capture_on_commit_callbacks):
    """GIVEN seven customers curtailed in one event, two of them on a daily digest WHEN the
    engine queues their notices THEN each customer has exactly one notice and the five due
    now are handed to a single send task (not one task per customer)."""
    event, chargers = _area_event(7)
    with django_capture_on_commit_callbacks(execute=True):
        created = notifications.notification_event_queue(event=event, pauses=_pauses(event, *chargers))

    notices = Notification.objects.filter(event=event, kind=NotificationKind.EVENT)
    customers = Consent.objects.filter(tenancy__premise__in=[c.meter.premise for c in chargers]).values_list(
        "tenancy__customer_id", flat=True
    )
    assert sorted(notices.values_list("customer_id", flat=True)) == sorted(customers)
    assert len(set(customers)) == 7
    assert {n.pk for n in created} == set(notices.values_list("pk", flat=True))
    due_now = set(notices.filter(status=NotificationStatus.PENDING).values_list("pk", flat=True))
    assert len(due_now) == 5
    assert notices.filter(status=NotificationStatus.BATCHED).count() == 2
    sends = [(name, args) for name, args in queued_tasks() if name.startswith("consent.tasks.notification")]
    assert [name for name, _ in sends] == ["consent.tasks.notifications_send"]


@override_settings(EMAIL_BACKEND="tests.consent.mailbackends.FlakyBackend")
def test_a_failed_send_in_a_batch_is_retried_and_the_others_go_out(celery_eager, django_capture_on_commit_callbacks):
    """GIVEN four customers due a notice now WHEN the first send of the batch fails
    transiently THEN every customer gets exactly one message: the failed notice is retried
    on its own, the rest of the batch is not held up."""
    FlakyBackend.failures_left = 1
    event, chargers = _area_event(4)
    Consent.objects.filter(tenancy__premise__in=[c.meter.premise for c in chargers]).update(
        notification_frequency=NotificationFrequency.EACH_EVENT
    )
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notification_event_queue(event=event, pauses=_pauses(event, *chargers))

    notices = Notification.objects.filter(event=event)
    assert sorted(notices.values_list("status", "attempts")) == sorted(
        [(NotificationStatus.SENT, 2)] + [(NotificationStatus.SENT, 1)] * 3
    )
    assert sorted(message.to[0] for message in mail.outbox) == sorted(notices.values_list("customer__email", flat=True))


def test_a_notice_whose_batch_breaks_is_left_for_the_beat_task(celery_eager, monkeypatch):
    """GIVEN a batch of three notices WHEN delivering one raises an unexpected error THEN the
    others are sent and that one stays pending, to be found by the beat task: none is lost."""
    event, chargers = _area_event(3)
    Consent.objects.filter(tenancy__premise__in=[c.meter.premise for c in chargers]).update(
        notification_frequency=NotificationFrequency.EACH_EVENT
    )
    created = notifications.notification_event_queue(event=event, pauses=_pauses(event, *chargers))
    broken = created[1]
    real_address_for = notifications.address_for

    def address_for(*, customer, channel, premise):
        if customer.pk == broken.customer_id:
            raise RuntimeError("template store unavailable")
        return real_address_for(customer=customer, channel=channel, premise=premise)

    monkeypatch.setattr(notifications, "address_for", address_for)
    outcome = tasks.notifications_send.delay([notice.pk for notice in created]).get()

    assert outcome == {NotificationStatus.SENT: 2, "error": 1}
    broken.refresh_from_db()
    assert (broken.status, broken.sent_at) == (NotificationStatus.PENDING, None)
    later = timezone.now() + dt.timedelta(minutes=3)
    assert notifications.notification_due_ids(now=later) == [broken.pk]
