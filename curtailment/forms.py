"""Forms of the curtailment pages. They only parse and check input; the services decide."""

from __future__ import annotations

from django import forms

from curtailment.choices import EventEndReason, EventStatus, EventTrigger
from feeders.models import Feeder, Substation


class EventCancelForm(forms.Form):
    """Cancel an event: the operator's reason (audited) and a confirmation tick."""

    reason = forms.CharField(min_length=5, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    confirm = forms.BooleanField(required=True, label="I confirm: reset every charger of this event (7.8)")


EVENTS_PER_PAGE_CHOICES = [(25, "25"), (50, "50"), (100, "100"), (250, "250")]


def _blank_first(choices) -> list[tuple[str, str]]:
    return [("", "any"), *choices]


class EventFilterForm(forms.Form):
    """The events list's filters; an unknown value is a 400 naming it, never a silently wrong list."""

    q = forms.CharField(required=False, max_length=100, label="Search")
    status = forms.ChoiceField(required=False, choices=_blank_first(EventStatus.choices))
    trigger = forms.ChoiceField(required=False, choices=_blank_first(EventTrigger.choices), label="Started")
    end_reason = forms.ChoiceField(required=False, choices=_blank_first(EventEndReason.choices), label="End reason")
    substation = forms.ModelChoiceField(
        required=False, queryset=Substation.objects.order_by("code"), to_field_name="code", empty_label="any"
    )
    feeder = forms.CharField(required=False, max_length=32, label="Feeder code")
    since = forms.DateField(required=False, input_formats=["%Y-%m-%d"], label="From (UK day)")
    until = forms.DateField(required=False, input_formats=["%Y-%m-%d"], label="To (UK day)")
    per_page = forms.TypedChoiceField(required=False, choices=EVENTS_PER_PAGE_CHOICES, coerce=int, empty_value=50)

    def clean_feeder(self) -> str:
        code = self.cleaned_data["feeder"].strip()
        if code and not Feeder.objects.filter(code__iexact=code).exists():
            raise forms.ValidationError(f"no feeder with the code {code!r}")
        return code

    def clean(self) -> dict:
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            raise forms.ValidationError("the 'To' day is before the 'From' day")
        return data
